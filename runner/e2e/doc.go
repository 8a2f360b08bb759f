// Package e2e holds runner's end-to-end tests: the real binary, started as a
// process against a temporary manifest directory and root directory, on the
// real Docker engine. Each test has its own instance id, so it only ever sees
// and removes the containers it made.
//
// Tests that stop and start the engine run on a private dockerd of their own
// (privateHarness, internal/dockerd), never on the machine's. The invariant
// checker (invariants_test.go) says what must hold once runner has
// converged, whatever happened before; the torture (torture_*_test.go)
// crashes runner, restarts the engine, feeds bad input and fills the disk,
// and checks it after each. `make test` runs a short variant of the
// torture, `make torture` the full one (RUNNER_TORTURE=full).
package e2e
