package main

import "time"

// results is every figure of one run; the phases fill it in order and the
// report reads it. A zero value means "not measured" (the run failed first).
type results struct {
	// The bound.
	boundSerial    durations            // one pod at a time: create to app started
	boundSteps     map[string]durations // per step of those pods
	boundParallel  durations            // 30 pods, 16 at once: before runner's batch, again before the teardown
	boundTeardown  durations            // those 30 pods, 16 at once: after the start, again before runner's teardown
	boundAdopt     time.Duration        // list and inspect runner's containers after its restart
	boundAdoptN    int
	boundKill      durations     // die event to the replacement's start event, a minimal restarter
	boundKillStart durations     // that restarter's start calls
	proxyHop       time.Duration // what the counting proxy adds to one request (median)
	boundMeasured  bool
	runnerMeasured bool

	// Start.
	firstPod   time.Duration        // the very first pod (cold: pause image check, bridge creation)
	start      durations            // 10 single pods: write to app container started
	startSteps map[string]durations // their breakdown from the engine's events
	batch      time.Duration        // 30 pods written at once: first write to last app started
	batchN     int
	singleReqs []int     // runner's requests per single pod, write to 300 ms after its app started
	singleLast []request // those of the last single pod
	batchReqs  int       // runner's requests from the batch's first write to its last app start

	// Reaction.
	reactCall  durations // write to runner's first request naming the pod (proxy)
	reactEvent durations // write to the sandbox's create event
	killStart  durations // die event to the replacement's start event
	killCall   durations // die event to runner's create request of the replacement

	// Steady state.
	steadyWindow time.Duration
	steadyPods   int
	steadyCPU    float64 // % of one core
	steadyRSS    int64   // KiB at the end of the window
	steadyHWM    int64   // KiB, peak over the process's life (VmHWM)
	steadyReqs   []request
	steadyEvents int

	// Restart.
	restartAdopt    time.Duration // SIGKILL'd runner restarted: exec to "adopted containers"
	restartCount    string        // the log line's count= and pods=
	restartCreated  int           // containers created in the quiet period after
	restartStarted  int           // containers started in it (restarts)
	restartReqs     []request     // requests of the new runner until the end of the quiet period
	restartQuiet    time.Duration
	restartMeasured bool

	// Garbage collection (phase_gc.go).
	gc gcResults

	// Engine restart (phase_engine.go).
	engine engineResults

	// Teardown.
	teardown   time.Duration // 30 manifests deleted to the last container destroyed
	teardownN  int           // containers destroyed
	teardownOK bool

	// Probes (phase_probes.go).
	probes probeResults
	// Pod network (phase_network.go).
	net netResults
}
