package source

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// podDoc is a valid Pod manifest named name whose content varies with
// version.
func podDoc(name, version string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: edge}
spec:
  containers:
  - name: app
    image: runner.local/busybox:test
    command: ["sleep", "%s"]
`, name, version)
}

// serverMode is how manifestServer answers.
type serverMode int

const (
	serveBody    serverMode = iota // 200 with the body (304 when the validators match)
	serve500                       // 500 Internal Server Error
	serve204                       // 204 No Content
	serveSlow                      // headers after the client's timeout
	serveGarbage                   // 200 with a body that is no manifest
	serveHuge                      // 200 with 100 MB of body
	serveStall                     // 200, half the body, then nothing
)

// manifestServer is a real HTTP server on 127.0.0.1 that serves a
// manifest body with an ETag (and optionally Last-Modified), and can be
// told to fail in the ways the HTTP source must survive. It can be stopped
// and started again on the same address, as a server that goes down.
type manifestServer struct {
	t    *testing.T
	addr string

	mu           sync.Mutex
	body         string
	etag         string // empty: none sent
	lastModified string
	mode         serverMode
	requests     []http.Header
	served       atomic.Int64 // 200s with a body
	notModified  atomic.Int64 // 304s
	srv          *http.Server
	release      chan struct{} // closed to end stalled and slow answers
	tlsCert      string        // PEM files, for TLS servers
	tlsKey       string
	clientCAs    *x509.CertPool // when set, a client certificate is required
}

// newManifestServer starts a plain HTTP server serving body.
func newManifestServer(t *testing.T, body string) *manifestServer {
	t.Helper()
	s := &manifestServer{t: t, release: make(chan struct{})}
	s.setBody(body)
	s.startOn("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

// newTLSManifestServer starts an HTTPS server with certFile and keyFile,
// requiring a client certificate signed by clientCAs when it is not nil.
func newTLSManifestServer(t *testing.T, body, certFile, keyFile string, clientCAs *x509.CertPool) *manifestServer {
	t.Helper()
	s := &manifestServer{t: t, release: make(chan struct{}), tlsCert: certFile, tlsKey: keyFile, clientCAs: clientCAs}
	s.setBody(body)
	s.startOn("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

// url is the server's manifest URL.
func (s *manifestServer) url() string {
	scheme := "http"
	if s.tlsCert != "" {
		scheme = "https"
	}
	return scheme + "://" + s.addr + "/pods.yaml"
}

// startOn listens on addr (127.0.0.1:0 for any port) and serves.
func (s *manifestServer) startOn(addr string) {
	s.t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // TLS refusals are what some tests want
	if s.clientCAs != nil {
		srv.TLSConfig = &tls.Config{ClientCAs: s.clientCAs, ClientAuth: tls.RequireAndVerifyClientCert}
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() {
		var err error
		if s.tlsCert != "" {
			err = srv.ServeTLS(l, s.tlsCert, s.tlsKey)
		} else {
			err = srv.Serve(l)
		}
		if err != nil && err != http.ErrServerClosed {
			s.t.Errorf("serve: %v", err)
		}
	}()
}

// stop takes the server down (connections refused until restart).
func (s *manifestServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	select {
	case <-s.release:
	default:
		close(s.release)
	}
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart brings the server back on the same address.
func (s *manifestServer) restart() {
	s.t.Helper()
	s.mu.Lock()
	s.release = make(chan struct{})
	s.mu.Unlock()
	s.startOn(s.addr)
}

// setBody serves body from now on, with a new ETag.
func (s *manifestServer) setBody(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
	s.etag = fmt.Sprintf(`"%x"`, contentSum([]byte(body))[:16])
}

func (s *manifestServer) setMode(m serverMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// useLastModifiedOnly makes the server validate by Last-Modified alone.
func (s *manifestServer) useLastModifiedOnly(lastModified string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag, s.lastModified = "", lastModified
}

func (s *manifestServer) headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.requests...)
}

func (s *manifestServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Header.Clone())
	body, etag, lastModified, mode, release := s.body, s.etag, s.lastModified, s.mode, s.release
	s.mu.Unlock()
	switch mode {
	case serve500:
		http.Error(w, "database is on fire", http.StatusInternalServerError)
		return
	case serve204:
		w.WriteHeader(http.StatusNoContent)
		return
	case serveSlow:
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return
	case serveGarbage:
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>\n"))
		return
	case serveHuge:
		chunk := []byte(strings.Repeat("# filler line of a body far too large\n", 1<<10))
		for sent := 0; sent < 100<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	case serveStall:
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write([]byte(body[:len(body)/2]))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			s.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if lastModified != "" {
		w.Header().Set("Last-Modified", lastModified)
		if etag == "" && r.Header.Get("If-Modified-Since") == lastModified {
			s.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.served.Add(1)
	_, _ = w.Write([]byte(body))
}

// countingLoad wraps manifest.Load and counts the bodies it parses.
type countingLoad struct{ n atomic.Int64 }

func (c *countingLoad) load(origin string, data []byte, opts manifest.Options) ([]*v1.Pod, manifest.Problems) {
	c.n.Add(1)
	return manifest.Load(origin, data, opts)
}

// startHTTP runs an HTTP source on cfg (with fast polls and retries unless
// set) until the test ends.
func startHTTP(t *testing.T, cfg HTTPConfig) *harness {
	t.Helper()
	h := newHarness(t)
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 5 * time.Millisecond
	}
	if cfg.Options.NodeName == "" {
		cfg.Options.NodeName = "node1"
	}
	cfg.Logger = h.logger()
	src, err := NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.run(src)
	return h
}

// polls counts the requests the server saw.
func (s *manifestServer) polls() int { return len(s.headers()) }
