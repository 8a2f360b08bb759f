package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// TestAttemptLatencies reads attempt lines as runner's text log prints
// them (the probe worker's logger carries container_id), by handler.
func TestAttemptLatencies(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	attempt := func(id, outcome string, latency time.Duration) {
		log.With("container_id", id).Debug("probe", "probe", "Liveness", "outcome", outcome, "status", "success", "latency", latency)
	}
	attempt("aaa", "success", 12*time.Millisecond)
	attempt("bbb", "failure", 1500*time.Millisecond)
	attempt("ccc", "success", 3*time.Millisecond)
	log.Info("probe status changed", "container", "app", "probe", "Liveness", "status", "failure")
	var lines []logLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		lines = append(lines, logLine{text: l})
	}
	got, failed := attemptLatencies(lines, map[string]string{"aaa": "exec", "bbb": "http"})
	if failed != 1 || len(got["all"]) != 3 || len(got["exec"]) != 1 || len(got["http"]) != 1 {
		t.Fatalf("latencies %v, failed %d; want 3 in all, one exec, one http, one failed", got, failed)
	}
	if got["exec"][0] != 12*time.Millisecond || got["http"][0] != 1500*time.Millisecond {
		t.Errorf("exec %v, http %v", got["exec"], got["http"])
	}
}

// TestProbeManifestsAreValid: the probe pods load as runner reads them,
// each with its 1 s liveness probe.
func TestProbeManifestsAreValid(t *testing.T) {
	for i := range 2 {
		pods, problems := manifest.Load("p.yaml", []byte(probeManifest(i)), manifest.Options{Source: manifest.SourceFile})
		if len(problems) > 0 || len(pods) != 1 {
			t.Fatalf("pod %d: %v", i, problems)
		}
		lp := pods[0].Spec.Containers[0].LivenessProbe
		if lp == nil || lp.PeriodSeconds != 1 || (lp.Exec == nil) != (i%2 == 1) {
			t.Errorf("pod %d: liveness probe %+v", i, lp)
		}
	}
}
