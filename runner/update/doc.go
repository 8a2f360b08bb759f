// Package update makes updates of static pods safe: a new version of a
// manifest proves itself, or runner rolls back to the last one that ran
// Ready.
//
// A Guard sits between the manifest sources and the loop. It passes the
// sources' snapshots on, and watches, per origin (a manifest file or the
// URL), whether the pods of the origin's current content become Ready. When
// they all are (a pod that ran to completion counts), that content is the
// origin's last Ready content, kept under --root-dir. When an origin's
// content changes (an update) and its pods are not all Ready within the
// rollback time (--rollback-after, or a pod's runner.dev/rollback-after
// annotation; 0 is the kubelet's behaviour: no rollback), the Guard marks
// the update failed and hands the loop the last Ready content again, loaded
// as the sources load it (same bytes at the same origin: the same pods, the
// same UIDs). The loop stops the new version fully and starts the old one,
// as for any update. The failed content is not tried again until the
// origin changes; a later change is a fresh update.
//
//	        content changes              all pods Ready
//	ready ─────────────────► updating ─────────────────► ready (new content kept)
//	  ▲                          │ not Ready within the rollback time
//	  │  origin changes again    ▼
//	  └──────────────────── rolled back (last Ready content runs)
//
// A pod that never ran Ready has no last Ready content: nothing to roll
// back to, which the Guard says once. Its state (last Ready contents,
// updates in progress with the time they were first seen, failed contents)
// is written atomically under --root-dir, so that a restart of runner in the
// middle of an update neither restarts its clock nor retries a failed
// content.
//
// Decisions are pure (decide); Run owns the state on one goroutine.
package update
