package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/podnet"
)

// parseNetworkFlags runs the pod network's flags (and --root-dir) through
// the CLI and returns what podNetworkConfig makes of them.
func parseNetworkFlags(t *testing.T, args ...string) (podnet.Config, error) {
	t.Helper()
	var cfg podnet.Config
	var cfgErr error
	app := &cli.App{
		Flags: append(podNetworkFlags(), &cli.StringFlag{Name: "root-dir", Value: "/var/lib/runner"}),
		Action: func(c *cli.Context) error {
			cfg, cfgErr = podNetworkConfig(c, nil)
			return nil
		},
	}
	if err := app.Run(append([]string{"runner"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, cfgErr
}

func TestNetworkFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    func(podnet.Config) bool
		wantErr string
	}{
		{want: func(c podnet.Config) bool {
			return c.NetworkPlugin == cni.Kubenet && c.CIDR == netip.MustParsePrefix("10.218.0.0/24") && c.BridgeName == "runner0" &&
				c.Dir == "/var/lib/runner/net" && c.ConfDir == "/etc/cni/net.d" && c.CNINetwork == ""
		}},
		{args: []string{"--network-plugin", "cni", "--cni-network", "podman", "--cni-conf-dir", "/x"}, want: func(c podnet.Config) bool {
			return c.NetworkPlugin == cni.CNI && c.CNINetwork == "podman" && c.ConfDir == "/x"
		}},
		{env: map[string]string{"RUNNER_NETWORK_PLUGIN": "cni"}, want: func(c podnet.Config) bool { return c.NetworkPlugin == cni.CNI }},
		{args: []string{"--pod-cidr", "10.30.0.0/23", "--cni-bridge-name", "br9"}, want: func(c podnet.Config) bool {
			return c.CIDR == netip.MustParsePrefix("10.30.0.0/23") && c.BridgeName == "br9"
		}},
		{args: []string{"--network-plugin", "flannel"}, wantErr: `--network-plugin "flannel": must be kubenet or cni`},
		{args: []string{"--cni-network", "podman"}, wantErr: "--cni-network \"podman\" needs --network-plugin=cni"},
		{args: []string{"--pod-cidr", "fd00::/64"}, wantErr: "--pod-cidr \"fd00::/64\": must be an IPv4 CIDR"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := parseNetworkFlags(t, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.want(cfg) {
				t.Errorf("config %+v, %v", cfg, err)
			}
		})
	}
}

// cleanup-network takes flags only; what it removes is tested in
// net/podnet (Uninstall), with the real plugins.
func TestCleanupNetworkUsage(t *testing.T) {
	code, _, stderr := runCLI(t, "cleanup-network", "extra")
	if code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "cleanup-network", "--pod-cidr", "10.1.0.0")
	if code != exitUsage || !strings.Contains(stderr, `--pod-cidr "10.1.0.0": must be an IPv4 CIDR`) {
		t.Errorf("bad --pod-cidr: exit %d, stderr %q", code, stderr)
	}
}
