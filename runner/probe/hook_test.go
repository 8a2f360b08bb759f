package probe

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRunHookExec(t *testing.T) {
	rt, id := runningContainer(t, scriptedExec)
	h := NewHandlers(HandlersConfig{Runtime: rt})
	target := Target{ContainerID: id}
	hook := func(cmd ...string) *v1.LifecycleHandler {
		return &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: cmd}}
	}
	if err := h.RunHook(t.Context(), target, hook("ok")); err != nil {
		t.Errorf("exec hook exiting 0: %v", err)
	}
	err := h.RunHook(t.Context(), target, hook("fail"))
	if err == nil || !strings.Contains(err.Error(), `exited with code 1: output "out\nbroken\n"`) {
		t.Errorf("exec hook exiting 1: %v, want its code and output", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := h.RunHook(ctx, target, hook("hang")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("exec hook past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestRunHookHTTPGet(t *testing.T) {
	var rec recorder
	srv := rec.server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "no", http.StatusInternalServerError)
		}
	})
	target, port := podOf(t, srv)
	h := NewHandlers(HandlersConfig{KubeVersion: "1.37"})
	get := func(scheme v1.URIScheme, path string, port int32) *v1.LifecycleHandler {
		return &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Scheme: scheme, Path: path, Port: intstr.FromInt32(port)}}
	}

	if err := h.RunHook(t.Context(), target, get("", "/prestop", port)); err != nil {
		t.Errorf("httpGet hook: %v", err)
	}
	if ua := rec.lastRequest().Header.Get("User-Agent"); ua != "kube-lifecycle/1.37" {
		t.Errorf("hook User-Agent %q, want kube-lifecycle/1.37", ua)
	}
	if err := h.RunHook(t.Context(), target, get("", "/broken", port)); err != nil {
		t.Errorf("httpGet hook answered 500: %v, want success (the kubelet does not check the status)", err)
	}
	if err := h.RunHook(t.Context(), target, get(v1.URISchemeHTTPS, "/tls", port)); err != nil {
		t.Errorf("HTTPS hook to a plain HTTP server: %v, want success through the HTTP fallback", err)
	}
	if path := rec.lastRequest().URL.Path; path != "/tls" {
		t.Errorf("last request %s, want the fallback's /tls", path)
	}
	if err := h.RunHook(t.Context(), target, get("", "/", closedPort(t))); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("httpGet hook to a closed port: %v, want connection refused", err)
	}
}

func TestRunHookRefusesTCPSocketAndNothing(t *testing.T) {
	h := NewHandlers(HandlersConfig{})
	if err := h.RunHook(t.Context(), Target{PodIP: "127.0.0.1"}, &v1.LifecycleHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(1)}}); err == nil {
		t.Errorf("tcpSocket hook ran, want an error (the kubelet never runs it)")
	}
	if err := h.RunHook(t.Context(), Target{}, &v1.LifecycleHandler{}); err == nil {
		t.Errorf("empty hook ran, want an error")
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := NewHandlers(HandlersConfig{}).RunHook(t.Context(), Target{}, &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 5}}); err != nil {
			t.Errorf("sleep hook: %v", err)
		}
		if slept := time.Since(start); slept != 5*time.Second {
			t.Errorf("sleep hook of 5s took %v", slept)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start = time.Now()
		err := Sleep(ctx, &v1.SleepAction{Seconds: 30})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 2*time.Second {
			t.Errorf("sleep of 30s with 2s of grace: %v after %v, want context.DeadlineExceeded after 2s", err, time.Since(start))
		}
	})
}
