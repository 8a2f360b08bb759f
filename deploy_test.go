package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitSettings reads deploy/runner.service as key → values.
func unitSettings(t *testing.T) (map[string][]string, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("deploy", "runner.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out, data
}

// TestSystemdUnit: the unit says what runner needs from systemd.
func TestSystemdUnit(t *testing.T) {
	got, _ := unitSettings(t)
	for key, want := range map[string]string{
		"Type":         "notify",  // READY=1 after the first sync
		"Restart":      "always",  // and a crash restarts no pod
		"KillMode":     "process", // stopping runner leaves everything it started
		"NotifyAccess": "main",
		"ExecStart":    "/usr/local/bin/runner",
		"WantedBy":     "multi-user.target",
	} {
		if len(got[key]) != 1 || got[key][0] != want {
			t.Errorf("%s=%q, want %q", key, got[key], want)
		}
	}
	if len(got["WatchdogSec"]) != 1 {
		t.Errorf("no WatchdogSec: a stuck loop would never be restarted")
	}
	if len(got["Requires"]) != 0 || len(got["BindsTo"]) != 0 {
		t.Errorf("Requires/BindsTo %q: stopping Docker must not stop runner", append(got["Requires"], got["BindsTo"]...))
	}
}

// TestSystemdUnitVerifies: systemd-analyze verify accepts the unit (the
// binary it names is the test's own, which exists). Without systemd the
// test skips.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not verified")
	}
	_, data := unitSettings(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "runner.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/local/bin/runner"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
