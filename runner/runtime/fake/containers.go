package fake

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// fakeContainer is one simulated container. Guarded by Runtime.mu.
type fakeContainer struct {
	runtime.Container
	seq  int
	spec runtime.ContainerSpec
	logs []logLine
	// changed is closed and replaced whenever the log grows or the state
	// changes, waking Logs followers.
	changed chan struct{}
}

// notifyLocked wakes the container's log followers. The caller holds r.mu.
func (c *fakeContainer) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// validName is Docker's rule for container names.
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// findLocked resolves ref like Docker: a full ID, a name, or an unambiguous
// ID prefix. The caller holds r.mu.
func (r *Runtime) findLocked(ref string) (*fakeContainer, error) {
	if c, ok := r.containers[ref]; ok {
		return c, nil
	}
	name := strings.TrimPrefix(ref, "/")
	for _, c := range r.containers {
		if c.Name == name {
			return c, nil
		}
	}
	var found *fakeContainer
	if ref != "" {
		for id, c := range r.containers {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, fmt.Errorf("container %s: ambiguous ID prefix", ref)
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no such container: %s", runtime.ErrNotFound, ref)
	}
	return found, nil
}

// ListContainers lists containers whose labels include all of match, newest
// first, with the same fields as the Docker adapter fills: ID, Name, Image,
// ImageID, Labels, State, CreatedAt.
func (r *Runtime) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("ListContainers", matchArg(match)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var found []*fakeContainer
	for _, c := range r.containers {
		if labelsMatch(c.Labels, match) {
			found = append(found, c)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].seq > found[j].seq })
	out := make([]runtime.Container, 0, len(found))
	for _, c := range found {
		out = append(out, runtime.Container{
			ID:        c.ID,
			Name:      c.Name,
			Image:     c.Image,
			ImageID:   c.ImageID,
			Labels:    maps.Clone(c.Labels),
			State:     c.State,
			CreatedAt: c.CreatedAt,
		})
	}
	return out, nil
}

// InspectContainer returns the container id (ID, name or ID prefix).
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("InspectContainer", id); err != nil {
		return runtime.Container{}, err
	}
	if err := ctx.Err(); err != nil {
		return runtime.Container{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	c, err := r.findLocked(id)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	out := c.Container
	out.Labels = maps.Clone(c.Labels)
	return out, nil
}

// Spec returns the spec container id was created with, for tests that check
// what the code under test asked for.
func (r *Runtime) Spec(id string) (runtime.ContainerSpec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id)
	if err != nil {
		return runtime.ContainerSpec{}, false
	}
	return c.spec, true
}

// CreateContainer creates a container in state created. The image must be
// present (runtime.ErrNotFound otherwise) and the name free
// (runtime.ErrConflict otherwise); an empty name gets a generated one.
func (r *Runtime) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := "create container " + spec.Name
	if err := r.recordLocked("CreateContainer", spec.Name); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	img, err := r.findImageLocked(spec.Image)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	seq := r.nextSeqLocked()
	name := strings.TrimPrefix(spec.Name, "/")
	if name == "" {
		name = fmt.Sprintf("fake_%d", seq)
	} else if !validName.MatchString(name) {
		return "", fmt.Errorf("%s: invalid container name %q", op, name)
	}
	for _, c := range r.containers {
		if c.Name == name {
			return "", fmt.Errorf("%s: %w: the name %q is in use by container %s", op, runtime.ErrConflict, name, c.ID)
		}
	}
	sum := sha256.Sum256([]byte(strconv.Itoa(seq) + "/" + name))
	id := hex.EncodeToString(sum[:])
	c := &fakeContainer{
		Container: runtime.Container{
			ID:        id,
			Name:      name,
			Image:     spec.Image,
			ImageID:   img.ID,
			Labels:    maps.Clone(spec.Labels),
			State:     runtime.StateCreated,
			CreatedAt: r.now(),
		},
		seq:     seq,
		spec:    cloneSpec(spec),
		changed: make(chan struct{}),
	}
	r.containers[id] = c
	r.emitLocked(c, runtime.EventCreate, 0)
	return id, nil
}

// cloneSpec copies the spec's slices and maps, so a caller reusing its spec
// cannot change what was recorded.
func cloneSpec(s runtime.ContainerSpec) runtime.ContainerSpec {
	s.Labels = maps.Clone(s.Labels)
	s.Entrypoint = cloneStrings(s.Entrypoint)
	s.Cmd = cloneStrings(s.Cmd)
	s.Env = cloneStrings(s.Env)
	s.GroupAdd = cloneStrings(s.GroupAdd)
	s.DNS = cloneStrings(s.DNS)
	s.DNSSearch = cloneStrings(s.DNSSearch)
	s.DNSOptions = cloneStrings(s.DNSOptions)
	s.ExtraHosts = cloneStrings(s.ExtraHosts)
	if s.Mounts != nil {
		s.Mounts = append([]runtime.Mount{}, s.Mounts...)
	}
	s.Tmpfs = maps.Clone(s.Tmpfs)
	s.Sysctls = maps.Clone(s.Sysctls)
	s.CapAdd = cloneStrings(s.CapAdd)
	s.CapDrop = cloneStrings(s.CapDrop)
	s.SecurityOpt = cloneStrings(s.SecurityOpt)
	s.MaskedPaths = cloneStrings(s.MaskedPaths)
	return s
}

// cloneStrings copies a slice, keeping nil and empty apart (they mean
// different things for Entrypoint, Cmd and MaskedPaths).
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

// StartContainer moves a created or exited container to running with a
// fresh fake pid. Starting a running container is success, as in Docker.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("StartContainer", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	c, err := r.findLocked(id)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if c.State == runtime.StateRunning {
		return nil
	}
	c.State = runtime.StateRunning
	c.Pid = 10000 + r.nextSeqLocked()
	c.ExitCode = 0
	c.OOMKilled = false
	c.Error = ""
	c.StartedAt = r.now()
	c.notifyLocked()
	r.emitLocked(c, runtime.EventStart, 0)
	return nil
}

// StopContainer stops a running container at once: its process obeys the
// stop signal (the spec's, else the image's, else SIGTERM) and exits with
// 128 + the signal's number. Gone or not running is success.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("StopContainer", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	c, err := r.findLocked(id)
	if err != nil || c.State != runtime.StateRunning {
		return nil
	}
	sig := c.spec.StopSignal
	if sig == "" {
		if img, ok := r.images[c.ImageID]; ok {
			sig = img.StopSignal
		}
	}
	num, ok := signalNumber(sig)
	if !ok {
		num = 15
	}
	r.exitLocked(c, 128+num, false)
	return nil
}

// KillContainer sends signal to the main process, which dies of it with
// 128 + the signal's number, unless the signal is one whose default action is
// not to terminate (SIGCHLD, SIGCONT, SIGSTOP, SIGWINCH, ...). A container that is not running is
// runtime.ErrConflict.
func (r *Runtime) KillContainer(ctx context.Context, id, signal string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := fmt.Sprintf("kill container %s with %s", id, signal)
	if err := r.recordLocked("KillContainer", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c, err := r.findLocked(id)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	num, ok := signalNumber(signal)
	if !ok {
		return fmt.Errorf("%s: invalid signal", op)
	}
	if c.State != runtime.StateRunning {
		return fmt.Errorf("%s: %w: container %s is not running", op, runtime.ErrConflict, c.ID)
	}
	if !harmless[num] {
		r.exitLocked(c, 128+num, false)
	}
	return nil
}

// RemoveContainer removes a container, killing it first when it runs. Gone
// is success.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("RemoveContainer", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	c, err := r.findLocked(id)
	if err != nil {
		return nil
	}
	if c.State == runtime.StateRunning {
		r.exitLocked(c, 137, false)
	}
	delete(r.containers, c.ID)
	c.notifyLocked()
	r.emitLocked(c, runtime.EventDestroy, 0)
	return nil
}

// Exit makes running container id's main process exit by itself with code,
// as a test's simulated program would.
func (r *Runtime) Exit(id string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id)
	if err != nil {
		return fmt.Errorf("exit container %s: %w", id, err)
	}
	if c.State != runtime.StateRunning {
		return fmt.Errorf("exit container %s: %w: not running", id, runtime.ErrConflict)
	}
	r.exitLocked(c, code, false)
	return nil
}

// OOMKill makes running container id die of the OOM killer: an oom event,
// then die with 137 and OOMKilled set.
func (r *Runtime) OOMKill(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id)
	if err != nil {
		return fmt.Errorf("oom-kill container %s: %w", id, err)
	}
	if c.State != runtime.StateRunning {
		return fmt.Errorf("oom-kill container %s: %w: not running", id, runtime.ErrConflict)
	}
	r.emitLocked(c, runtime.EventOOM, 0)
	r.exitLocked(c, 137, true)
	return nil
}

// exitLocked ends a running container's process with code and emits die.
// The caller holds r.mu.
func (r *Runtime) exitLocked(c *fakeContainer, code int, oom bool) {
	c.State = runtime.StateExited
	c.Pid = 0
	c.ExitCode = code
	c.OOMKilled = oom
	c.FinishedAt = r.now()
	c.notifyLocked()
	r.emitLocked(c, runtime.EventDie, code)
}

// signals are the numbers of the signals a test is likely to name.
var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7,
	"FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13,
	"ALRM": 14, "TERM": 15, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20,
	"TTIN": 21, "TTOU": 22, "URG": 23, "WINCH": 28, "PWR": 30, "SYS": 31,
}

// harmless are the signals whose default action leaves a process running.
var harmless = map[int]bool{17: true, 18: true, 19: true, 20: true, 21: true, 22: true, 23: true, 28: true}

// signalNumber reads "SIGTERM", "TERM" or "15" like Docker does.
func signalNumber(sig string) (int, bool) {
	if n, err := strconv.Atoi(sig); err == nil {
		return n, n > 0 && n < 65
	}
	n, ok := signals[strings.TrimPrefix(strings.ToUpper(sig), "SIG")]
	return n, ok
}

// ExportContainer streams the root file system of the container's image: the
// tarball it was imported from, an empty one for an image added directly.
func (r *Runtime) ExportContainer(ctx context.Context, id string) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("ExportContainer", id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("export container %s: %w", id, err)
	}
	c, err := r.findLocked(id)
	if err != nil {
		return nil, fmt.Errorf("export container %s: %w", id, err)
	}
	data := emptyTar()
	if img, ok := r.images[c.ImageID]; ok && img.rootfs != nil {
		data = img.rootfs
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// emptyTar is a tarball with no entry.
func emptyTar() []byte {
	var b bytes.Buffer
	_ = tar.NewWriter(&b).Close()
	return b.Bytes()
}
