package nettest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		ci, require string
		want        bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"false", "", false},
		{"0", "", false},
		{"", "1", true},
		{"", "0", false},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("RUNNER_REQUIRE_INTEGRATION", tc.require)
		if got := Required(); got != tc.want {
			t.Errorf("CI=%q RUNNER_REQUIRE_INTEGRATION=%q: Required() = %v, want %v", tc.ci, tc.require, got, tc.want)
		}
	}
}

func TestFindPlugins(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for dir, names := range map[string][]string{a: {"bridge"}, b: {"bridge", "portmap"}} {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := PluginDirs
	t.Cleanup(func() { PluginDirs = old })
	PluginDirs = []string{a, b}
	if dir, lacking := findPlugins([]string{"bridge", "portmap"}); dir != b || lacking != nil {
		t.Errorf("findPlugins = %q, %v; want %q", dir, lacking, b)
	}
	if dir, lacking := findPlugins([]string{"bridge", "firewall"}); dir != "" || !slices.Equal(lacking, []string{"firewall"}) {
		t.Errorf("findPlugins with one missing = %q, %v", dir, lacking)
	}
}
