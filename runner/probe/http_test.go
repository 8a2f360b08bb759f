package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Tests of the httpGet handler against local servers on 127.0.0.1.

const probeTimeout = 5 * time.Second // long enough for a loaded machine; no test waits it out

// podOf is the Target of a pod whose IP is the server's, and the server's
// port.
func podOf(t testing.TB, srv *httptest.Server) (Target, int32) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, portText, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portText)
	return Target{PodIP: host}, int32(port)
}

// recorder is a server that keeps the last request it got and answers
// with handle.
type recorder struct {
	mu   sync.Mutex
	last *http.Request
}

func (r *recorder) server(t *testing.T, handle http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.last = req.Clone(context.Background())
		r.mu.Unlock()
		handle(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (r *recorder) lastRequest() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) }

func TestHTTPGetRequest(t *testing.T) {
	var rec recorder
	srv := rec.server(t, ok)
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{})

	res := h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{
		Path: "/healthz?verbose=1",
		Port: intstr.FromInt32(port),
		HTTPHeaders: []v1.HTTPHeader{
			{Name: "Host", Value: "etcd.example"},
			{Name: "X-Probe", Value: "one"},
			{Name: "X-Probe", Value: "two"},
		},
	}, probeTimeout)
	if res.Outcome != Success || res.Output != "fine" {
		t.Fatalf("HTTPGet = %+v, want success with the body", res)
	}
	req := rec.lastRequest()
	if req.Method != http.MethodGet || req.URL.Path != "/healthz" || req.URL.RawQuery != "verbose=1" {
		t.Errorf("request %s %s, want GET /healthz?verbose=1", req.Method, req.URL)
	}
	if req.Host != "etcd.example" {
		t.Errorf("Host %q, want the header's etcd.example", req.Host)
	}
	if got := req.Header.Values("X-Probe"); strings.Join(got, ",") != "one,two" {
		t.Errorf("X-Probe %q, want both values", got)
	}
	if ua := req.Header.Get("User-Agent"); !regexp.MustCompile(`^kube-probe/1\.[0-9]+$`).MatchString(ua) {
		t.Errorf("User-Agent %q, want kube-probe/1.<minor>", ua)
	}
	if accept := req.Header.Get("Accept"); accept != "*/*" {
		t.Errorf("Accept %q, want */*", accept)
	}
	if enc := req.Header.Get("Accept-Encoding"); enc != "" {
		t.Errorf("Accept-Encoding %q, want none (the body is read as sent)", enc)
	}
}

func TestHTTPGetHeadersOverrideDefaults(t *testing.T) {
	var rec recorder
	srv := rec.server(t, ok)
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{KubeVersion: "1.99"})

	h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Port: intstr.FromInt32(port)}, probeTimeout)
	if ua := rec.lastRequest().Header.Get("User-Agent"); ua != "kube-probe/1.99" {
		t.Errorf("User-Agent %q, want kube-probe/1.99 (configured version)", ua)
	}
	h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Port: intstr.FromInt32(port), HTTPHeaders: []v1.HTTPHeader{
		{Name: "User-Agent", Value: "mine"}, {Name: "Accept", Value: ""},
	}}, probeTimeout)
	req := rec.lastRequest()
	if ua := req.Header.Get("User-Agent"); ua != "mine" {
		t.Errorf("User-Agent %q, want the action's", ua)
	}
	if _, set := req.Header["Accept"]; set {
		t.Errorf("Accept %q sent, want none (the action set it empty)", req.Header.Get("Accept"))
	}
}

func TestHTTPGetBuiltKubeVersion(t *testing.T) {
	if v := builtKubeVersion(); !regexp.MustCompile(`^1\.[0-9]+$`).MatchString(v) || v == "1.0" {
		t.Errorf("builtKubeVersion() = %q, want 1.<minor of k8s.io/api>", v)
	}
}

func TestHTTPGetNamedPortAndHosts(t *testing.T) {
	srv := (&recorder{}).server(t, ok)
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{})
	named := Target{PodIP: target.PodIP, Ports: []v1.ContainerPort{{Name: "http", ContainerPort: port}}}
	cases := []struct {
		name   string
		target Target
		action v1.HTTPGetAction
	}{
		{"named port", named, v1.HTTPGetAction{Port: intstr.FromString("http")}},
		{"host network: loopback", Target{HostNetwork: true}, v1.HTTPGetAction{Port: intstr.FromInt32(port)}},
		{"action's host over the pod IP", Target{PodIP: "192.0.2.1"}, v1.HTTPGetAction{Host: "127.0.0.1", Port: intstr.FromInt32(port)}},
		{"scheme in lower case", target, v1.HTTPGetAction{Scheme: "http", Port: intstr.FromInt32(port)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if res := h.HTTPGet(t.Context(), c.target, &c.action, probeTimeout); res.Outcome != Success {
				t.Errorf("HTTPGet = %+v, want success", res)
			}
		})
	}
	for name, c := range map[string]struct {
		target Target
		action v1.HTTPGetAction
	}{
		"unknown port name": {named, v1.HTTPGetAction{Port: intstr.FromString("https")}},
		"no pod IP":         {Target{}, v1.HTTPGetAction{Port: intstr.FromInt32(port)}},
		"unknown scheme":    {target, v1.HTTPGetAction{Scheme: "FTP", Port: intstr.FromInt32(port)}},
	} {
		if res := h.HTTPGet(t.Context(), c.target, &c.action, probeTimeout); res.Outcome != Unknown || res.Err == nil {
			t.Errorf("%s: HTTPGet = %+v, want unknown with an error", name, res)
		}
	}
}

func TestHTTPGetStatusAndRedirects(t *testing.T) {
	h := NewHandlers(HandlersConfig{})
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", ok)
	mux.HandleFunc("/no-content", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/moved-here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/moved-absolute", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/ok", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/moved-away", func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Host)
		http.Redirect(w, r, "http://127.0.0.2:"+port+"/ok", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/no-location", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMultipleChoices) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "secret detail", http.StatusInternalServerError)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	target, port := podOf(t, srv)

	cases := []struct {
		path        string
		want        Outcome
		wantOutput  string
		wantContain string
	}{
		{"/ok", Success, "fine", ""},
		{"/no-content", Success, "", ""},
		{"/moved-here", Success, "fine", ""},
		{"/moved-absolute", Success, "fine", ""},
		{"/moved-away", Warning, "", "Probe terminated redirects, Response body: "},
		{"/no-location", Warning, "Probe terminated redirects, Response body: ", ""},
		{"/loop", Failure, "", "stopped after 10 redirects"},
		{"/missing", Failure, "HTTP probe failed with statuscode: 404", ""},
		{"/broken", Failure, "HTTP probe failed with statuscode: 500", ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			res := h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Path: c.path, Port: intstr.FromInt32(port)}, probeTimeout)
			if res.Outcome != c.want {
				t.Fatalf("HTTPGet(%s) = %+v, want %v", c.path, res, c.want)
			}
			if c.wantContain == "" && res.Output != c.wantOutput || !strings.Contains(res.Output, c.wantContain) {
				t.Errorf("HTTPGet(%s) output %q, want %q (containing %q)", c.path, res.Output, c.wantOutput, c.wantContain)
			}
		})
	}
}

func TestHTTPGetTimeout(t *testing.T) {
	srv := (&recorder{}).server(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{})
	res := h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Port: intstr.FromInt32(port)}, 100*time.Millisecond)
	if res.Outcome != Failure || !strings.Contains(res.Output, "deadline exceeded") {
		t.Errorf("HTTPGet of a server that never answers = %+v, want a failure naming the deadline", res)
	}
}

func TestHTTPGetStoppedIsUnknown(t *testing.T) {
	arrived := make(chan struct{})
	var once sync.Once
	srv := (&recorder{}).server(t, func(_ http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-r.Context().Done()
	})
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived // cancel while the request waits
		cancel()
	}()
	if res := h.HTTPGet(ctx, target, &v1.HTTPGetAction{Port: intstr.FromInt32(port)}, probeTimeout); res.Outcome != Unknown {
		t.Errorf("HTTPGet whose worker stops = %+v, want unknown (not counted)", res)
	}
}

func TestHTTPGetBodyCapped(t *testing.T) {
	srv := (&recorder{}).server(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	target, port := podOf(t, srv)
	res := NewHandlers(HandlersConfig{}).HTTPGet(t.Context(), target, &v1.HTTPGetAction{Port: intstr.FromInt32(port)}, probeTimeout)
	if res.Outcome != Success || len(res.Output) != MaxOutput {
		t.Errorf("HTTPGet of a 1 MiB body = %v with %d bytes, want success with %d", res.Outcome, len(res.Output), MaxOutput)
	}
}

func TestHTTPGetHTTPSWithoutVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(ok)) // self-signed
	t.Cleanup(srv.Close)
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{})
	res := h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Scheme: v1.URISchemeHTTPS, Port: intstr.FromInt32(port)}, probeTimeout)
	if res.Outcome != Success || res.Output != "fine" {
		t.Errorf("HTTPS probe of a self-signed server = %+v, want success", res)
	}
	res = h.HTTPGet(t.Context(), target, &v1.HTTPGetAction{Port: intstr.FromInt32(port)}, probeTimeout)
	if res.Outcome != Failure {
		t.Errorf("HTTP probe of an HTTPS server = %+v, want failure", res)
	}
}
