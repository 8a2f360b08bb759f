package runtimetest

import (
	"slices"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

func testVersion(h *harness) {
	v, err := h.rt.Version(h.ctx())
	if err != nil {
		h.t.Fatalf("Version: %v", err)
	}
	if name, version, ok := strings.Cut(v, " "); !ok || name == "" || version == "" {
		h.t.Errorf("Version = %q, want \"<engine> <version>\"", v)
	}
}

// testLifecycle walks one container through create, start, stop, restart
// and remove, checking what inspect reports at each step.
func testLifecycle(h *harness) {
	ctx := h.ctx()
	spec := h.spec("c", "sleep", "3600")
	spec.Env = []string{"A=1"}
	id := h.create(spec)
	if len(id) != 64 {
		h.t.Errorf("CreateContainer returned ID %q, want 64 hex digits", id)
	}

	c := h.inspect(id)
	if c.ID != id || c.Name != spec.Name || c.Image != h.opts.Image || c.State != runtime.StateCreated {
		h.t.Errorf("created: got ID %q name %q image %q state %v, want %q %q %q created", c.ID, c.Name, c.Image, c.State, id, spec.Name, h.opts.Image)
	}
	if !strings.HasPrefix(c.ImageID, "sha256:") {
		h.t.Errorf("created: ImageID %q, want sha256:...", c.ImageID)
	}
	if !hasLabels(c.Labels, h.labels()) {
		h.t.Errorf("created: labels %v, want to include %v", c.Labels, h.labels())
	}
	if c.CreatedAt.IsZero() || !c.StartedAt.IsZero() || c.Pid != 0 {
		h.t.Errorf("created: CreatedAt %v StartedAt %v Pid %d, want set, zero, 0", c.CreatedAt, c.StartedAt, c.Pid)
	}
	if byName := h.inspect(spec.Name); byName.ID != id {
		h.t.Errorf("InspectContainer(name) = %s, want %s", byName.ID, id)
	}

	if err := h.rt.StartContainer(ctx, id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
	c = h.inspect(id)
	if c.State != runtime.StateRunning || c.Pid <= 0 || c.StartedAt.IsZero() {
		h.t.Errorf("started: state %v pid %d StartedAt %v, want running, >0, set", c.State, c.Pid, c.StartedAt)
	}
	if err := h.rt.StartContainer(ctx, id); err != nil {
		h.t.Errorf("StartContainer of a running container: %v, want success", err)
	}

	// sleep as PID 1 ignores SIGTERM on a real engine: stopped by the kill
	// after the grace period.
	if err := h.rt.StopContainer(ctx, id, time.Second); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	c = h.inspect(id)
	if c.State != runtime.StateExited || c.Pid != 0 || c.ExitCode == 0 {
		h.t.Errorf("stopped: state %v pid %d exit code %d, want exited, 0, non-zero", c.State, c.Pid, c.ExitCode)
	}
	if c.FinishedAt.IsZero() || c.FinishedAt.Before(c.StartedAt) {
		h.t.Errorf("stopped: FinishedAt %v, want set and not before StartedAt %v", c.FinishedAt, c.StartedAt)
	}
	if err := h.rt.StopContainer(ctx, id, time.Second); err != nil {
		h.t.Errorf("StopContainer of a stopped container: %v, want success", err)
	}

	if err := h.rt.StartContainer(ctx, id); err != nil {
		h.t.Fatalf("StartContainer of an exited container: %v", err)
	}
	if c = h.inspect(id); c.State != runtime.StateRunning || c.Pid <= 0 {
		h.t.Errorf("restarted: state %v pid %d, want running, >0", c.State, c.Pid)
	}

	if err := h.rt.RemoveContainer(ctx, id); err != nil {
		h.t.Fatalf("RemoveContainer of a running container: %v", err)
	}
	_, err := h.rt.InspectContainer(ctx, id)
	h.wantErr("InspectContainer after remove", err, runtime.ErrNotFound)
	if err := h.rt.RemoveContainer(ctx, id); err != nil {
		h.t.Errorf("RemoveContainer twice: %v, want success", err)
	}
	if err := h.rt.StopContainer(ctx, id, time.Second); err != nil {
		h.t.Errorf("StopContainer of a removed container: %v, want success", err)
	}
}

// testListByLabel checks that ListContainers returns exactly the
// containers whose labels match, in every state, with their identity.
func testListByLabel(h *harness) {
	a1 := h.spec("a1", "sleep", "3600")
	a1.Labels["group"] = "a"
	a2 := h.spec("a2", "sleep", "3600")
	a2.Labels["group"] = "a"
	b := h.spec("b", "sleep", "3600")
	b.Labels["group"] = "b"
	idA1, idA2, idB := h.create(a1), h.create(a2), h.create(b)
	if err := h.rt.StartContainer(h.ctx(), idA1); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}

	list := func(group string) map[string]runtime.Container {
		match := h.labels()
		if group != "" {
			match["group"] = group
		}
		got, err := h.rt.ListContainers(h.ctx(), match)
		if err != nil {
			h.t.Fatalf("ListContainers(%v): %v", match, err)
		}
		byID := map[string]runtime.Container{}
		for _, c := range got {
			byID[c.ID] = c
		}
		return byID
	}

	got := list("a")
	if len(got) != 2 || got[idA1].ID == "" || got[idA2].ID == "" {
		h.t.Fatalf("ListContainers(group=a) = %v, want %s and %s", keys(got), idA1, idA2)
	}
	c1, c2 := got[idA1], got[idA2]
	if c1.State != runtime.StateRunning || c2.State != runtime.StateCreated {
		h.t.Errorf("listed states %v, %v, want running, created", c1.State, c2.State)
	}
	if c1.Name != a1.Name || c1.Image != h.opts.Image || !strings.HasPrefix(c1.ImageID, "sha256:") ||
		c1.Labels["group"] != "a" || c1.CreatedAt.IsZero() {
		h.t.Errorf("listed %+v, want name %q, image %q, an image ID, label group=a, a creation time", c1, a1.Name, h.opts.Image)
	}
	if got := list("b"); len(got) != 1 || got[idB].ID == "" {
		h.t.Errorf("ListContainers(group=b) = %v, want %s", keys(got), idB)
	}
	if got := list("none"); len(got) != 0 {
		h.t.Errorf("ListContainers(group=none) = %v, want none", keys(got))
	}
	if got := list(""); len(got) != 3 {
		h.t.Errorf("ListContainers(run, case) = %v, want 3 containers", keys(got))
	}
}

func keys(m map[string]runtime.Container) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// testNotFound checks the mapping of missing objects to ErrNotFound, and
// that Stop and Remove of a missing container succeed.
func testNotFound(h *harness) {
	ctx := h.ctx()
	missing := h.name("missing")
	_, err := h.rt.InspectContainer(ctx, missing)
	h.wantErr("InspectContainer", err, runtime.ErrNotFound)
	h.wantErr("StartContainer", h.rt.StartContainer(ctx, missing), runtime.ErrNotFound)
	h.wantErr("KillContainer", h.rt.KillContainer(ctx, missing, "SIGKILL"), runtime.ErrNotFound)
	_, err = h.rt.Exec(ctx, missing, []string{"true"})
	h.wantErr("Exec", err, runtime.ErrNotFound)
	var out, errOut strings.Builder
	h.wantErr("Logs", h.rt.Logs(ctx, missing, runtime.LogOptions{Tail: -1}, &out, &errOut), runtime.ErrNotFound)
	if err := h.rt.StopContainer(ctx, missing, time.Second); err != nil {
		h.t.Errorf("StopContainer of a missing container: %v, want success", err)
	}
	if err := h.rt.RemoveContainer(ctx, missing); err != nil {
		h.t.Errorf("RemoveContainer of a missing container: %v, want success", err)
	}

	missingImage := "runner.local/does-not-exist:" + h.opts.RunID
	_, err = h.rt.InspectImage(ctx, missingImage)
	h.wantErr("InspectImage", err, runtime.ErrNotFound)
	h.wantErr("RemoveImage", h.rt.RemoveImage(ctx, missingImage), runtime.ErrNotFound)
	spec := h.spec("noimage", "true")
	spec.Image = missingImage
	id, err := h.rt.CreateContainer(ctx, spec)
	if err == nil {
		h.remove(id)
	}
	h.wantErr("CreateContainer with a missing image", err, runtime.ErrNotFound)
}

// testConflict checks the mapping of a taken name and of operations that
// need a running container to ErrConflict.
func testConflict(h *harness) {
	ctx := h.ctx()
	spec := h.spec("dup", "sleep", "3600")
	id := h.create(spec)
	if other, err := h.rt.CreateContainer(ctx, spec); err == nil {
		h.remove(other)
		h.t.Errorf("CreateContainer with a taken name succeeded")
	} else {
		h.wantErr("CreateContainer with a taken name", err, runtime.ErrConflict)
	}
	h.wantErr("KillContainer of a created container", h.rt.KillContainer(ctx, id, "SIGKILL"), runtime.ErrConflict)
	_, err := h.rt.Exec(ctx, id, []string{"true"})
	h.wantErr("Exec in a created container", err, runtime.ErrConflict)
}

// testKillExitCode kills a running container with SIGKILL.
func testKillExitCode(h *harness) {
	id := h.run("k", "sleep", "3600")
	if err := h.rt.KillContainer(h.ctx(), id, "SIGKILL"); err != nil {
		h.t.Fatalf("KillContainer: %v", err)
	}
	c := h.waitState(id, runtime.StateExited)
	if c.ExitCode != 137 {
		h.t.Errorf("exit code after SIGKILL = %d, want 137", c.ExitCode)
	}
	h.wantErr("KillContainer of an exited container", h.rt.KillContainer(h.ctx(), id, "SIGKILL"), runtime.ErrConflict)
}

// testExitCode lets a container exit by itself with a code.
func testExitCode(h *harness) {
	id := h.run("e", "sh", "-c", "exit 3")
	h.acts(id, "", "", 3)
	c := h.waitState(id, runtime.StateExited)
	if c.ExitCode != 3 || c.OOMKilled || c.Pid != 0 || c.FinishedAt.IsZero() {
		h.t.Errorf("exited: code %d oom %v pid %d FinishedAt %v, want 3, false, 0, set", c.ExitCode, c.OOMKilled, c.Pid, c.FinishedAt)
	}
}
