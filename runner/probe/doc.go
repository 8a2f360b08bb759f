// Package probe runs the health checks of containers as the kubelet does:
// the handlers shared by probes and lifecycle hooks (exec, httpGet,
// tcpSocket, grpc, sleep), and the probe workers that turn their results
// into events for the reconcile loop. It knows nothing of the loop: a
// handler acts on a Target (container ID, pod IP or host network, declared
// ports), and the workers report through the function given in Config.
//
// # Handlers
//
// Handlers.Probe runs a probe's action once within its timeout and returns a
// Result: Success, Warning (counted as a success), Failure, or Unknown (it
// could not run; not counted, as the kubelet throws it away). Handlers.RunHook
// runs a postStart or preStop action with the kubelet's hook rules, and Sleep
// is the sleep action. Exec goes through the runtime seam, which kills a
// command that outlives its deadline. Network handlers go to the pod's IP,
// or to 127.0.0.1 for a hostNetwork pod, unless the action names a host.
//
// # Workers
//
// Manager.Start starts one goroutine per probe of a container; Manager.Stop
// ends them and returns once they have ended. Each worker goes:
//
//	Start ─► [startup gate] ─► first delay ─► probe ─► tally ─► report ─┐
//	                                            ▲                       │
//	                                            └──── every period ◄────┘
//
// The steps:
//   - startup gate: liveness and readiness wait until the startup probe, if
//     any, has succeeded; the startup worker then ends.
//   - first delay: initialDelaySeconds from the container's start, and, for
//     containers started in the first period of the Manager, a random part
//     of the period (jitter).
//   - tally: successThreshold successes in a row make the status Success,
//     failureThreshold failures make it Failure. A liveness or startup
//     Failure ends the worker: the loop kills the container.
//   - report: an Event for each change of status and for each attempt that
//     did not succeed plainly (the kubelet's Unhealthy events).
//
// Statuses start as InitialStatus says: readiness Failure (not ready until
// its first success), liveness Success, startup Unknown. The loop decides
// everything else: a container without a readiness probe is ready once
// running and started; a liveness failure means a kill with the Event's
// grace period, or the pod's.
//
// # Ownership
//
// The Manager owns every worker goroutine; Stop (per container) and StopAll
// join them, and an attempt in flight at Stop is cancelled and not reported.
// No goroutine of this package outlives a container's Stop or a handler's
// return.
package probe
