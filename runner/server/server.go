package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "k8s.io/api/core/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// Config is what the server serves. A nil source makes its endpoints
// answer 503 (not available) rather than disappear.
type Config struct {
	// Pods is the status store.
	Pods PodLister
	// Events returns the latest events, oldest first.
	Events func() []runner.Event
	// Logs reads containers' logs (the engine).
	Logs LogReader
	// Checks are /healthz's checks, run in parallel, each bounded by
	// CheckTimeout.
	Checks []Check
	// Metrics is /metrics; Cadvisor /metrics/cadvisor.
	Metrics  prometheus.Gatherer
	Cadvisor func() prometheus.Gatherer
	// Stats gives /stats/summary and Node /node; either may answer
	// ErrNotReady while cadvisor starts.
	Stats func(ctx context.Context) (*statsapi.Summary, error)
	Node  func(ctx context.Context) (*v1.Node, error)
	// CheckTimeout bounds each health check (default 3s).
	CheckTimeout time.Duration
	Logger       *slog.Logger
}

// ErrNotReady is what a source answers while it is starting.
var ErrNotReady = errors.New("not ready yet")

// PodLister is the status store as the API reads it.
type PodLister interface {
	List() []*v1.Pod
}

// LogReader is the part of the engine /containerLogs reads.
type LogReader interface {
	Logs(ctx context.Context, id string, opts runtime.LogOptions, stdout, stderr io.Writer) error
}

// Server is the API. Create it with New; serve it with Serve.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// health is the mux of the healthz-only listener.
	health *http.ServeMux
}

// New builds the handlers; it does no I/O.
func New(cfg Config) *Server {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), health: http.NewServeMux()}
	// "GET" patterns also match HEAD; any other method on a known path gets
	// 405 from the mux, with an Allow header.
	s.mux.HandleFunc("GET /pods", s.pods)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /node", s.node)
	s.mux.HandleFunc("GET /stats/summary", s.summary)
	s.mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	s.mux.HandleFunc("GET /metrics", s.metrics)
	s.mux.HandleFunc("GET /metrics/cadvisor", s.cadvisor)
	s.health.HandleFunc("GET /healthz", s.healthz)
	return s
}

// Handler is the whole API (the read-only port's).
func (s *Server) Handler() http.Handler { return s.mux }

// HealthHandler serves /healthz only (the healthz port's).
func (s *Server) HealthHandler() http.Handler { return s.health }

// Serve serves h on l until ctx ends, then closes every connection
// (followed logs included) and returns. Run on its own goroutine by main.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// Request contexts end with ctx: a followed log stops at shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		http.Error(w, "metrics are not available", http.StatusServiceUnavailable)
		return
	}
	promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{ErrorLog: slogErrors{s.log}}).ServeHTTP(w, r)
}

func (s *Server) cadvisor(w http.ResponseWriter, r *http.Request) {
	var g prometheus.Gatherer
	if s.cfg.Cadvisor != nil {
		g = s.cfg.Cadvisor()
	}
	if g == nil {
		http.Error(w, "cadvisor is not available (yet)", http.StatusServiceUnavailable)
		return
	}
	promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogErrors{s.log}}).ServeHTTP(w, r)
}

// slogErrors logs promhttp's errors.
type slogErrors struct{ log *slog.Logger }

func (l slogErrors) Println(v ...any) { l.log.Warn("metrics", "error", v) }

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		// The client went away; nothing to tell it.
		return
	}
}

// unavailable answers a source's error: 503 while it starts, 500 else.
func unavailable(w http.ResponseWriter, what string, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrNotReady) {
		code = http.StatusServiceUnavailable
	}
	http.Error(w, what+": "+err.Error(), code)
}
