package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/runner-dev/runner/runner/runtime"
)

// logParams are the query parameters /containerLogs takes, as the
// kubelet's; any other is refused.
var logParams = map[string]bool{"follow": true, "previous": true, "tailLines": true, "timestamps": true, "sinceSeconds": true}

// containerLogs serves /containerLogs/{namespace}/{pod}/{container}: the
// container's current (or, with previous=true, its last terminated)
// instance's log, stdout and stderr interleaved.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	if err := checkNames(ns, name, container); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts, previous, err := parseLogQuery(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.cfg.Pods == nil || s.cfg.Logs == nil {
		http.Error(w, "logs are not available", http.StatusServiceUnavailable)
		return
	}
	id, err := findContainer(s.cfg.Pods.List(), ns, name, container, previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	out := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok && opts.Follow {
		out.flush = f.Flush
	}
	if err := s.cfg.Logs.Logs(r.Context(), id, opts, out, out); err != nil && r.Context().Err() == nil {
		if !out.wrote {
			code := http.StatusInternalServerError
			if errors.Is(err, runtime.ErrNotFound) {
				code = http.StatusNotFound
			}
			http.Error(w, err.Error(), code)
			return
		}
		s.log.Debug("container log stream ended", "pod", ns+"/"+name, "container", container, "error", err)
	}
}

// checkNames refuses path parameters that are not the names Kubernetes
// allows: nothing with a "/" or ".." reaches a lookup.
func checkNames(ns, pod, container string) error {
	for _, c := range []struct {
		what, value string
		errs        []string
	}{
		{"namespace", ns, validation.IsDNS1123Label(ns)},
		{"pod name", pod, validation.IsDNS1123Subdomain(pod)},
		{"container name", container, validation.IsDNS1123Label(container)},
	} {
		if len(c.errs) > 0 {
			return fmt.Errorf("invalid %s %q: %s", c.what, c.value, strings.Join(c.errs, "; "))
		}
	}
	return nil
}

// parseLogQuery reads /containerLogs' parameters.
func parseLogQuery(q url.Values, now time.Time) (opts runtime.LogOptions, previous bool, err error) {
	for k := range q {
		if !logParams[k] {
			return opts, false, fmt.Errorf("unknown parameter %q (allowed: follow, previous, tailLines, timestamps, sinceSeconds)", k)
		}
	}
	flag := func(k string) (bool, error) {
		if !q.Has(k) {
			return false, nil
		}
		v := q.Get(k)
		if v == "" {
			return true, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s=%q: must be true or false", k, v)
		}
		return b, nil
	}
	if opts.Follow, err = flag("follow"); err != nil {
		return opts, false, err
	}
	if previous, err = flag("previous"); err != nil {
		return opts, false, err
	}
	if opts.Timestamps, err = flag("timestamps"); err != nil {
		return opts, false, err
	}
	opts.Tail = -1
	if q.Has("tailLines") {
		n, err := strconv.Atoi(q.Get("tailLines"))
		if err != nil || n < 0 {
			return opts, false, fmt.Errorf("tailLines=%q: must be a number ≥ 0", q.Get("tailLines"))
		}
		opts.Tail = n
	}
	if q.Has("sinceSeconds") {
		n, err := strconv.ParseInt(q.Get("sinceSeconds"), 10, 64)
		if err != nil || n <= 0 {
			return opts, false, fmt.Errorf("sinceSeconds=%q: must be a number > 0", q.Get("sinceSeconds"))
		}
		opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if previous && opts.Follow {
		// The previous instance has exited: there is nothing to follow.
		opts.Follow = false
	}
	return opts, previous, nil
}

// findContainer is the engine ID of a container of a pod, from the pods'
// statuses: its current instance, or its last terminated one. Pure.
func findContainer(pods []*v1.Pod, ns, name, container string, previous bool) (string, error) {
	for _, p := range pods {
		if p.Namespace != ns || p.Name != name {
			continue
		}
		for _, list := range [][]v1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range list {
				if cs.Name != container {
					continue
				}
				id := cs.ContainerID
				if previous {
					id = ""
					if t := cs.LastTerminationState.Terminated; t != nil {
						id = t.ContainerID
					}
					if id == "" {
						return "", fmt.Errorf("previous terminated container %q in pod %q not found", container, name)
					}
				}
				if id, ok := strings.CutPrefix(id, "docker://"); ok && id != "" {
					return id, nil
				}
				return "", fmt.Errorf("container %q in pod %q has not been created yet", container, name)
			}
		}
		return "", fmt.Errorf("container %q is not in pod %q", container, name)
	}
	return "", fmt.Errorf("pod %s/%s not found", ns, name)
}

// flushWriter writes stdout and stderr to one response, one write at a
// time, flushing each when following.
type flushWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	flush func()
	wrote bool
}

func (f *flushWriter) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wrote = true
	n, err := f.w.Write(b)
	if f.flush != nil {
		f.flush()
	}
	return n, err
}
