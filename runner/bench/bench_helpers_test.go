package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
)

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/v1.41/containers/json", "/containers/json"},
		{"/v1.41/containers/create", "/containers/create"},
		{"/v1.41/containers/4f1a9c/json", "/containers/{id}/json"},
		{"/v1.41/containers/4f1a9c/start", "/containers/{id}/start"},
		{"/v1.41/images/runner.local/busybox:test/json", "/images/{ref}/json"},
		{"/_ping", "/_ping"},
		{"/v1.41/events", "/events"},
	} {
		if got := normalizePath(tc.in); got != tc.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkPlan/steady/pods=10-2         	    6751	     44992 ns/op	      4499 ns/pod	    4640 B/op	      60 allocs/op
BenchmarkLoadEtcd-2          	     116	   1523688 ns/op	   1.48 MB/s	   86296 B/op	    1223 allocs/op
BenchmarkLoadConformance/kubeadm-1.32-kind-etcd.yaml-2 	439	493495 ns/op
PASS
ok  	github.com/runner-dev/runner/runner	6.803s
`
	got := parseGoBench(out)
	if len(got) != 3 {
		t.Fatalf("parsed %d benchmarks, want 3: %+v", len(got), got)
	}
	if got[0].name != "BenchmarkPlan/steady/pods=10" || got[0].nsPerOp != 44992 || got[0].metrics["ns/pod"] != 4499 || got[0].metrics["allocs/op"] != 60 {
		t.Errorf("first = %+v", got[0])
	}
	if got[1].name != "BenchmarkLoadEtcd" || got[1].metrics["MB/s"] != 1.48 {
		t.Errorf("second = %+v", got[1])
	}
	if got[2].name != "BenchmarkLoadConformance/kubeadm-1.32-kind-etcd.yaml" || got[2].nsPerOp != 493495 {
		t.Errorf("third = %+v (the file name's dashes must survive)", got[2])
	}
}

func TestQuantile(t *testing.T) {
	var d durations
	for i := 20; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 10 * time.Millisecond}, {0.99, 20 * time.Millisecond}, {0.05, time.Millisecond}} {
		if got := d.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if d[0] != 20*time.Millisecond {
		t.Error("quantile sorted its receiver")
	}
	if (durations{}).median() != 0 {
		t.Error("median of nothing is not 0")
	}
}

func TestClassifyAndSummary(t *testing.T) {
	reqs := []request{
		{key: "GET /containers/json"}, {key: "GET /containers/{id}/json"}, {key: "GET /containers/{id}/json"},
		{key: "GET /events"}, {key: "POST /containers/create"}, {key: "GET /images/json"},
	}
	lists, inspects, other := classify(reqs)
	if lists != 2 || inspects != 2 || other != 1 {
		t.Errorf("classify = %d lists, %d inspects, %d other; want 2, 2, 1", lists, inspects, other)
	}
	want := "GET /containers/{id}/json ×2, GET /containers/json ×1, GET /events ×1, POST /containers/create ×1, GET /images/json ×1"
	if got := requestSummary(reqs); got != want {
		t.Errorf("requestSummary = %q, want %q", got, want)
	}
}

func TestTimelineOf(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(1000, 0).Add(time.Duration(ms) * time.Millisecond) }
	ev := func(container, attempt string, action events.Action, ms int) event {
		return event{action: action, at: at(ms), attrs: map[string]string{
			labelPodName: "p-bench", labelContainer: container, labelAttempt: attempt}}
	}
	evs := []event{
		ev(sandboxName, "0", events.ActionCreate, 10),
		ev(sandboxName, "0", events.ActionStart, 20),
		ev("app", "0", events.ActionCreate, 30),
	}
	if _, ok := timelineOf(evs, "p-bench"); ok {
		t.Fatal("a pod whose app has not started has a timeline")
	}
	evs = append(evs, ev("app", "1", events.ActionStart, 35), ev("app", "0", events.ActionStart, 40))
	tl, ok := timelineOf(evs, "p-bench")
	if !ok || !tl.sbCreate.Equal(at(10)) || !tl.sbStart.Equal(at(20)) || !tl.appCreate.Equal(at(30)) || !tl.appStart.Equal(at(40)) {
		t.Errorf("timeline = %+v, %v; want attempt 0's events", tl, ok)
	}
}

// TestProxyForwardsRecordsAndStreams runs the proxy in front of a fake
// engine on a unix socket: a plain request is answered and recorded, a
// stream reaches the client before it ends, and close returns with the
// stream still open.
func TestProxyForwardsRecordsAndStreams(t *testing.T) {
	dir := t.TempDir()
	upstream := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", upstream)
	if err != nil {
		t.Fatal(err)
	}
	engine := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.41/events" {
			fmt.Fprintln(w, `{"status":"start"}`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		fmt.Fprintf(w, "engine saw %s", r.URL.Path)
	})}
	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		_ = engine.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = engine.Close()
		<-engineDone
	})

	p, err := startProxy(filepath.Join(dir, "proxy.sock"), upstream)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.close()
		}
	})
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", p.path)
	}}}
	t.Cleanup(client.CloseIdleConnections)

	before := time.Now()
	resp, err := client.Get("http://docker/v1.41/containers/abc123/json?size=false")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "engine saw /v1.41/containers/abc123/json" {
		t.Errorf("body = %q", body)
	}
	reqs := p.between(before, time.Now().Add(time.Second))
	if len(reqs) != 1 || reqs[0].key != "GET /containers/{id}/json" || !strings.Contains(reqs[0].uri, "size=false") {
		t.Fatalf("recorded %+v", reqs)
	}
	if r, ok := p.firstAfter(before, "abc123"); !ok || r.key != reqs[0].key {
		t.Errorf("firstAfter = %+v, %v", r, ok)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/v1.41/events", nil)
	stream, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	line, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil || line != "{\"status\":\"start\"}\n" {
		t.Fatalf("first event line = %q, %v (not flushed through the proxy?)", line, err)
	}
	if last, ok := p.last("GET /events"); !ok || last.uri != "/v1.41/events" {
		t.Errorf("last events request = %+v, %v", last, ok)
	}
	done := make(chan struct{})
	go func() {
		p.close()
		close(done)
	}()
	select {
	case <-done:
		closed = true
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return with a stream open")
	}
}
