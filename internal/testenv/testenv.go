// Package testenv sorts tests into runner's tiers and holds the helpers the
// test suites share.
//
// Tiers: a unit test needs nothing but Go and touches nothing on the host;
// `go test -short` (make unit) runs only those. An integration test (Docker,
// root, CNI plugins, mounts, network namespaces) calls Integration first: it
// is skipped under -short with one line. Outside -short, what it needs and
// does not find (Need) fails it when integration is required — in CI, or
// with RUNNER_REQUIRE_INTEGRATION=1, as .ci/run sets — and skips it with one
// line on a developer's machine that lacks it.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Required reports whether integration tests must run: a missing
// prerequisite then fails them instead of skipping them.
func Required() bool {
	return os.Getenv("RUNNER_REQUIRE_INTEGRATION") == "1" || os.Getenv("CI") != ""
}

// Integration marks t as an integration test that needs what: under -short
// it is skipped with one line.
func Integration(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test (needs %s): skipped under -short", what)
	}
}

// Need fails or skips t when err says that what it needs is missing: it
// fails when integration is Required, else it skips with one line naming
// what is missing and how to get it.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s is required here (CI or RUNNER_REQUIRE_INTEGRATION=1) but missing: %v", what, err)
	}
	t.Skipf("%s missing (run `make setup` as root): %v", what, err)
}

// Root is Need for the root user.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Need(t, "root", os.ErrPermission)
	}
}

// Eventually polls cond every step until it holds, failing t with what when
// timeout passes first. For tests against real processes; loop tests run
// in virtual time instead.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	step := 20 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(step)
		step = min(step*2, 200*time.Millisecond)
	}
}

// RepoRoot is the root of the repository, found from this file's place.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ConformanceDir is the directory of the shared conformance corpus
// (RUNNER_CONFORMANCE_DIR, else ../shared/conformance beside the checkout).
// Without it the test is skipped with one line naming it: a plain clone of
// the repository has no corpus, and passes.
func ConformanceDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RUNNER_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared", "conformance")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("conformance corpus %s absent (it is beside the checkout in CI): skipped", dir)
	}
	return dir
}
