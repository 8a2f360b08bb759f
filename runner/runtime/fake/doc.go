// Package fake is an in-memory runtime.Runtime for unit tests of the code
// above the runtime seam. It records every call, can fail the next call of a
// method with an injected error, and simulates what an engine would do:
// container lifecycle with fake pids and exit codes (stop: 128+stop signal,
// so 143 for SIGTERM; kill: 128+signal, so 137 for SIGKILL), images that are
// present (AddImage) or pullable (AllowPull), logs a test writes (WriteLog),
// exec results a test decides (HandleExec), processes that exit by
// themselves (Exit, OOMKill), and the create/start/die/oom/destroy events of
// all of it. Timestamps come from the injectable Now.
//
// It mirrors the Docker adapter where callers could tell the difference:
// the same sentinel errors in the same cases, Stop and Remove of a gone
// container succeed, ListContainers fills the same subset of fields, event
// labels carry "name" and "image" besides the container's labels. The
// contract suite in runtime/runtimetest runs against both.
//
// What it does not model: processes (a stop signal is always obeyed at once,
// so grace periods never elapse), restart policies, networking, volumes.
package fake
