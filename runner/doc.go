// Package runner is the reconcile loop: it keeps the pods of the desired
// Snapshot running in the container engine, through the runtime seam.
//
// One goroutine (Run) owns the desired pods and the observed containers. It
// learns of containers from a list at start, from the engine's event stream
// and from a full relist every SyncFrequency. For each pod whose inputs
// changed it calls plan (pure: desired + observed + backoff → actions) and
// hands the actions to a worker goroutine: one worker at a time per pod, up
// to MaxParallel pods at once. A worker reports what it did back to the loop,
// which folds the containers it saw into the observed state and plans again.
//
//	snapshots ─┐
//	events ────┼─► loop ─plan─► worker(pod) ─► runtime
//	relist ────┤     ▲                │
//	timers ────┘     └──── results ◄──┘
//
// A pod's life: Pending (sandbox and containers being created) → Running →
// Succeeded/Failed (restartPolicy Never/OnFailure) or torn down when it leaves
// the desired set (preStop, SIGTERM, grace, SIGKILL, remove). Stopping the
// runner (Shutdown, SIGTERM) leaves every pod running; a new runner adopts the
// labelled containers it finds and restarts none whose pod is unchanged.
package runner
