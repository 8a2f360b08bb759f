package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// Call is one recorded call of a Runtime method.
type Call struct {
	Method string // e.g. "StartContainer"
	// Arg is the main argument: the container id (as the caller gave it) or
	// name, the image ref, "key=value,..." for a label match, or "" when the
	// method has none.
	Arg string
}

func (c Call) String() string { return c.Method + "(" + c.Arg + ")" }

// methods are the Runtime methods FailNext accepts.
var methods = []string{
	"Version", "ListContainers", "InspectContainer", "CreateContainer",
	"StartContainer", "StopContainer", "KillContainer", "RemoveContainer",
	"InspectImage", "ListImages", "PullImage", "LoadImage", "ImportImage", "RemoveImage",
	"Exec", "Logs", "Events", "ExportContainer",
}

// Runtime is the in-memory runtime.Runtime. The zero value is not usable;
// call New. Safe for concurrent use.
type Runtime struct {
	// Now is the clock of every timestamp (created, started, finished, log
	// lines, events). Set it before the first call; New sets time.Now.
	Now func() time.Time

	mu         sync.Mutex
	calls      []Call
	failNext   map[string]error
	containers map[string]*fakeContainer // by ID
	images     map[string]*fakeImage     // by ID
	pullable   map[string]bool           // normalized refs
	pullAuth   map[string]runtime.RegistryAuth
	execFunc   func(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error)
	subs       map[*subscriber]struct{}
	seq        int
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty fake: no containers, no images, nothing pullable.
func New() *Runtime {
	return &Runtime{
		Now:        time.Now,
		failNext:   map[string]error{},
		containers: map[string]*fakeContainer{},
		images:     map[string]*fakeImage{},
		pullable:   map[string]bool{},
		pullAuth:   map[string]runtime.RegistryAuth{},
		subs:       map[*subscriber]struct{}{},
	}
}

// Calls returns every call so far, in order.
func (r *Runtime) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// CallsOf returns the calls so far of one method, in order.
func (r *Runtime) CallsOf(method string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// FailNext makes the next call of method (a Runtime method name, e.g.
// "StartContainer") fail with err and change nothing; the call after it
// behaves normally again. It panics on a name that is not a method, to
// catch typos in tests.
func (r *Runtime) FailNext(method string, err error) {
	if !slices.Contains(methods, method) {
		panic(fmt.Sprintf("fake: FailNext of unknown method %q", method))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext[method] = err
}

// recordLocked records a call and returns the error injected for it, if
// any. The caller holds r.mu.
func (r *Runtime) recordLocked(method, arg string) error {
	r.calls = append(r.calls, Call{Method: method, Arg: arg})
	if err, ok := r.failNext[method]; ok {
		delete(r.failNext, method)
		return err
	}
	return nil
}

// now reads the clock.
func (r *Runtime) now() time.Time {
	return r.Now()
}

// nextSeqLocked returns a fresh sequence number. The caller holds r.mu.
func (r *Runtime) nextSeqLocked() int {
	r.seq++
	return r.seq
}

// Version reports "fake 1.0".
func (r *Runtime) Version(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("Version", ""); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("engine version: %w", err)
	}
	return "fake 1.0", nil
}

// matchArg renders a label match for Call.Arg: sorted "k=v" joined by ",".
func matchArg(match map[string]string) string {
	keys := slices.Sorted(maps.Keys(match))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+match[k])
	}
	return strings.Join(parts, ",")
}

// labelsMatch reports whether labels include all of match.
func labelsMatch(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
