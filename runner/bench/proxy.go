package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"sync"
	"time"
)

// request is one Docker API request the proxy forwarded.
type request struct {
	at  time.Time
	key string // method and path with ids replaced, e.g. "GET /containers/{id}/json"
	uri string // the raw request URI, query included
}

// proxy serves the Docker API on a unix socket of its own and forwards every
// request to the engine's socket, recording each one: runner is pointed at
// it with --docker-endpoint so its requests can be counted. Streams (events)
// are flushed as they come; upgraded connections are spliced.
type proxy struct {
	path string
	srv  *http.Server
	ln   net.Listener
	done chan struct{}

	mu   sync.Mutex
	reqs []request
}

// startProxy listens on path and forwards to the engine socket upstream.
// Its server runs on one goroutine that close joins.
func startProxy(path, upstream string) (*proxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	p := &proxy{path: path, ln: ln, done: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = "docker"
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", upstream)
			},
			MaxIdleConnsPerHost: 64,
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0), // a stream cut at close is not news
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.record(r)
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln) // ErrServerClosed after close
	}()
	return p, nil
}

func (p *proxy) record(r *http.Request) {
	req := request{at: time.Now(), key: r.Method + " " + normalizePath(r.URL.Path), uri: r.URL.RequestURI()}
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
}

// between returns the requests received in [from, to).
func (p *proxy) between(from, to time.Time) []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []request
	for _, r := range p.reqs {
		if !r.at.Before(from) && r.at.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// firstAfter returns the first request received at or after t whose URI
// contains s.
func (p *proxy) firstAfter(t time.Time, s string) (request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.reqs {
		if !r.at.Before(t) && strings.Contains(r.uri, s) {
			return r, true
		}
	}
	return request{}, false
}

// last returns the latest request of kind key.
func (p *proxy) last(key string) (request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.reqs) - 1; i >= 0; i-- {
		if p.reqs[i].key == key {
			return p.reqs[i], true
		}
	}
	return request{}, false
}

// close stops serving, ends open streams and joins the server goroutine.
func (p *proxy) close() {
	_ = p.srv.Close()
	<-p.done
}

var apiVersion = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

// normalizePath strips the API version and replaces container ids and image
// references with placeholders, so requests can be counted by kind.
func normalizePath(path string) string {
	path = apiVersion.ReplaceAllString(path, "")
	parts := strings.Split(path, "/")
	switch {
	case len(parts) >= 3 && parts[1] == "containers" && parts[2] != "json" && parts[2] != "create" && parts[2] != "prune":
		parts[2] = "{id}"
		return strings.Join(parts, "/")
	case len(parts) >= 4 && parts[1] == "images" && parts[len(parts)-1] == "json":
		return "/images/{ref}/json"
	}
	return path
}
