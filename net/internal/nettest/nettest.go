package nettest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PluginDirs are searched for the CNI plugins, as net/cni's default.
var PluginDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// Required reports whether missing prerequisites fail integration tests
// instead of skipping them: in CI (CI set to anything but "", "0" or
// "false") or with RUNNER_REQUIRE_INTEGRATION=1.
func Required() bool {
	if os.Getenv("RUNNER_REQUIRE_INTEGRATION") == "1" {
		return true
	}
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return false
	}
	return true
}

// NeedNetAdmin is called first by a test that creates network namespaces,
// bridges and iptables rules with the given CNI plugins. It skips under
// -short, and checks root, the plugins, ip, iptables and /bin/busybox:
// what is missing fails the test when Required, else skips it, in one line
// naming all of it. It returns the directory holding the plugins.
func NeedNetAdmin(t testing.TB, plugins ...string) (pluginDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (changes the host's network: namespaces, bridges, iptables); skipped with -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	pluginDir, lacking := findPlugins(plugins)
	for _, p := range lacking {
		missing = append(missing, "CNI plugin "+p+" (in "+strings.Join(PluginDirs, " or ")+")")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		missing = append(missing, "/bin/busybox")
	}
	if len(missing) > 0 {
		msg := "integration test needs " + strings.Join(missing, ", ") + " (run the tests as root after make setup)"
		if Required() {
			t.Fatal(msg + "; failing because CI or RUNNER_REQUIRE_INTEGRATION=1 is set")
		}
		t.Skip(msg + "; skipped outside CI")
	}
	return pluginDir
}

// findPlugins returns the first directory of PluginDirs that holds every
// plugin, or the plugins none holds.
func findPlugins(plugins []string) (string, []string) {
	var best []string
	for i, dir := range PluginDirs {
		var lacking []string
		for _, p := range plugins {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				lacking = append(lacking, p)
			}
		}
		if len(lacking) == 0 {
			return dir, nil
		}
		if i == 0 || len(lacking) < len(best) {
			best = lacking
		}
	}
	return "", best
}
