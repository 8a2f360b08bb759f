package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Check is one health check: nil when healthy.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// healthz serves /healthz: "ok" when every check passes, else 500 with one
// line per check ([+] passed, [-] failed and why). ?verbose lists the
// checks when all pass too.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	results := s.runChecks(r.Context())
	failed := false
	var b strings.Builder
	for i, c := range s.cfg.Checks {
		if err := results[i]; err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.Name, err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", c.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case failed:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%shealthz check failed\n", b.String())
	case r.URL.Query().Has("verbose"):
		fmt.Fprintf(w, "%shealthz check passed\n", b.String())
	default:
		fmt.Fprint(w, "ok")
	}
}

// runChecks runs every check at once, each bounded by CheckTimeout.
func (s *Server) runChecks(ctx context.Context) []error {
	out := make([]error, len(s.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range s.cfg.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.Check(cctx) }()
			select {
			case err := <-done:
				out[i] = err
			case <-cctx.Done():
				out[i] = fmt.Errorf("no answer within %v", s.cfg.CheckTimeout)
			}
		})
	}
	wg.Wait()
	return out
}
