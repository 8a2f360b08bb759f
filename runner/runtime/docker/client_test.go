package docker

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/runner-dev/runner/runner/runtime"
)

func TestResolveEndpoint(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "DOCKER_HOST" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct{ configured, env, want string }{
		{"tcp://127.0.0.1:2375", "unix:///other.sock", "tcp://127.0.0.1:2375"},
		{"", "unix:///other.sock", "unix:///other.sock"},
		{"", "", DefaultEndpoint},
	} {
		if got := resolveEndpoint(tc.configured, env(tc.env)); got != tc.want {
			t.Errorf("resolveEndpoint(%q, DOCKER_HOST=%q) = %q, want %q", tc.configured, tc.env, got, tc.want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	rt, err := New(Config{Endpoint: "unix:///nonexistent.sock"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer rt.Close()
	if rt.callTimeout != DefaultCallTimeout {
		t.Errorf("call timeout %v, want %v", rt.callTimeout, DefaultCallTimeout)
	}
	if _, err := New(Config{Endpoint: "not a url"}); err == nil {
		t.Errorf("New with a malformed endpoint succeeded")
	}
}

func TestGraceSeconds(t *testing.T) {
	for _, tc := range []struct {
		grace time.Duration
		want  int
	}{{-time.Second, 0}, {0, 0}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}} {
		if got := graceSeconds(tc.grace); got != tc.want {
			t.Errorf("graceSeconds(%v) = %d, want %d", tc.grace, got, tc.want)
		}
	}
}

func TestStateOf(t *testing.T) {
	for status, want := range map[container.ContainerState]runtime.State{
		"created": runtime.StateCreated, "running": runtime.StateRunning, "paused": runtime.StateRunning,
		"restarting": runtime.StateRunning, "exited": runtime.StateExited, "dead": runtime.StateExited,
		"removing": runtime.StateExited, "weird": runtime.StateUnknown,
	} {
		if got := stateOf(status); got != want {
			t.Errorf("stateOf(%q) = %v, want %v", status, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	if got := parseTime("0001-01-01T00:00:00Z"); !got.IsZero() {
		t.Errorf("Docker's never = %v, want zero", got)
	}
	if got := parseTime("2024-05-01T10:00:00.123456789Z"); got.Nanosecond() != 123456789 || got.Year() != 2024 {
		t.Errorf("parseTime = %v", got)
	}
	if got := parseTime(""); !got.IsZero() {
		t.Errorf("empty = %v, want zero", got)
	}
}

func TestEventOf(t *testing.T) {
	msg := func(action events.Action, attrs map[string]string) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: action, TimeNano: 1700000000123456789,
			Actor: events.Actor{ID: "abc", Attributes: attrs}}
	}
	ev, ok := eventOf(msg("die", map[string]string{"exitCode": "137", "name": "n", "image": "i", "app": "x"}))
	if !ok || ev.Action != runtime.EventDie || ev.ExitCode != 137 || ev.ContainerID != "abc" ||
		ev.Labels["app"] != "x" || ev.Labels["name"] != "n" || !ev.Time.Equal(time.Unix(0, 1700000000123456789)) {
		t.Errorf("die = %+v, %v", ev, ok)
	}
	for _, a := range []events.Action{"create", "start", "oom", "destroy"} {
		if ev, ok := eventOf(msg(a, nil)); !ok || string(ev.Action) != string(a) {
			t.Errorf("%s = %+v, %v", a, ev, ok)
		}
	}
	for _, a := range []events.Action{"exec_start: sh -c true", "exec_die", "kill", "stop", "attach", "resize"} {
		if _, ok := eventOf(msg(a, nil)); ok {
			t.Errorf("%s translated, want dropped", a)
		}
	}
	net := msg("start", nil)
	net.Type = events.NetworkEventType
	if _, ok := eventOf(net); ok {
		t.Errorf("network event translated, want dropped")
	}
}

func TestLogsOptions(t *testing.T) {
	since := time.Unix(1700000000, 5)
	o := logsOptions(runtime.LogOptions{Follow: true, Timestamps: true, Tail: 10, Since: since})
	if !o.ShowStdout || !o.ShowStderr || !o.Follow || !o.Timestamps || o.Tail != "10" || o.Since != "1700000000.000000005" {
		t.Errorf("logsOptions = %+v", o)
	}
	if o := logsOptions(runtime.LogOptions{Tail: -1}); o.Tail != "all" || o.Since != "" {
		t.Errorf("tail -1 = %+v, want all, no since", o)
	}
	if o := logsOptions(runtime.LogOptions{}); o.Tail != "0" {
		t.Errorf("tail 0 = %q, want \"0\"", o.Tail)
	}
}

// TestExecGivenUpReturnsWithinTheKillBudget: an exec whose caller gave up
// and which the engine never starts (no pid, no exit code, as a loaded
// engine answers for a while) is waited for at most execKillBudget, not a
// whole CallTimeout: runner's shutdown waits for its probes' execs.
func TestExecGivenUpReturnsWithinTheKillBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Api-Version", "1.41")
		switch {
		case strings.HasSuffix(req.URL.Path, "/_ping"):
			_, _ = w.Write([]byte("OK"))
		case strings.HasSuffix(req.URL.Path, "/exec"):
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"Id":"e1"}`))
		case strings.HasSuffix(req.URL.Path, "/exec/e1/start"):
			// The stream opens and stays silent until the client closes it.
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
			_ = buf.Flush()
			_, _ = io.Copy(io.Discard, conn)
		case strings.HasSuffix(req.URL.Path, "/exec/e1/json"):
			_, _ = w.Write([]byte(`{"ID":"e1","Running":false,"Pid":0,"ExitCode":0,"ContainerID":"c1"}`))
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	rt, err := New(Config{Endpoint: "tcp://" + strings.TrimPrefix(srv.URL, "http://"), CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = rt.Exec(ctx, "c1", []string{"true"})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not start or end") {
		t.Errorf("Exec = %v, want the kill's error (it did not start or end)", err)
	}
	if took > execKillBudget+5*time.Second {
		t.Errorf("Exec returned %v after its caller gave up; the kill may take %v", took, execKillBudget)
	}
}
