package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// configured runs runner's CLI with args, applies --config as the daemon
// does, and returns the flags as the daemon would then read them, with the
// log and the error of applyConfigFile.
func configured(t *testing.T, args ...string) (*flagValues, string, error) {
	t.Helper()
	app := newApp(io.Discard, io.Discard)
	var got *flagValues
	var log bytes.Buffer
	var applyErr error
	app.Action = func(c *cli.Context) error {
		applyErr = applyConfigFile(c, slog.New(slog.NewTextHandler(&log, nil)))
		got = &flagValues{c: c, strings: map[string]string{}, lists: map[string][]string{}}
		for _, f := range c.App.Flags {
			name := f.Names()[0]
			switch f.(type) {
			case *cli.StringSliceFlag:
				got.lists[name] = c.StringSlice(name)
			default:
				got.strings[name] = c.Generic(name).(interface{ String() string }).String()
			}
		}
		return nil
	}
	if err := app.Run(append([]string{"runner"}, args...)); err != nil {
		t.Fatalf("app.Run: %v", err)
	}
	return got, log.String(), applyErr
}

type flagValues struct {
	c       *cli.Context
	strings map[string]string
	lists   map[string][]string
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFileDrivesFlags: each field runner implements reaches the flag
// the daemon reads, as the flag itself would; a flag given wins.
func TestConfigFileDrivesFlags(t *testing.T) {
	for _, tc := range []struct {
		field, flag string
		want        any // string, or []string for list flags
	}{
		{"staticPodPath: /etc/edge/pods", "manifest-dir", "/etc/edge/pods"},
		{"staticPodURL: http://127.0.0.1:1/p.yaml", "manifest-url", "http://127.0.0.1:1/p.yaml"},
		{"staticPodURLHeader: {A: [b]}", "manifest-url-header", []string{"A:b"}},
		{"syncFrequency: 30s", "sync-frequency", (30 * time.Second).String()},
		{"fileCheckFrequency: 5s", "file-check-frequency", "5s"},
		{"httpCheckFrequency: 1m", "http-check-frequency", "1m0s"},
		{"podCIDR: 10.99.0.0/24", "pod-cidr", "10.99.0.0/24"},
		{"clusterDNS: [10.96.0.10, 10.96.0.11]", "cluster-dns", []string{"10.96.0.10", "10.96.0.11"}},
		{"clusterDomain: edge.local", "cluster-domain", "edge.local"},
		{"resolvConf: /run/resolv.conf", "resolv-conf", "/run/resolv.conf"},
		{"containerLogMaxSize: 20Mi", "container-log-max-size", "20Mi"},
		{"containerLogMaxFiles: 3", "container-log-max-files", "3"},
		{"maxPods: 30", "max-pods", "30"},
		{"podPidsLimit: 1024", "pod-pids-limit", "1024"},
		{"runOnce: true", "runonce", "true"},
		{"crashLoopBackOff: {maxContainerRestartPeriod: 1m}", "restart-backoff-max", "1m0s"},
		{"syncFrequency: 0s", "sync-frequency", "1m0s"}, // kubeadm's 0s: the default
	} {
		t.Run(tc.flag, func(t *testing.T) {
			got, _, err := configured(t, "--config", writeConfig(t, tc.field+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			switch want := tc.want.(type) {
			case string:
				if got.strings[tc.flag] != want {
					t.Errorf("%s: --%s = %q, want %q", tc.field, tc.flag, got.strings[tc.flag], want)
				}
			case []string:
				if !slices.Equal(got.lists[tc.flag], want) {
					t.Errorf("%s: --%s = %q, want %q", tc.field, tc.flag, got.lists[tc.flag], want)
				}
			}
		})
	}
}

func TestConfigFileFlagsWin(t *testing.T) {
	path := writeConfig(t, "staticPodPath: /from/file\nclusterDNS: [10.0.0.1]\nfileCheckFrequency: 5s\n")
	t.Setenv("RUNNER_FILE_CHECK_FREQUENCY", "7s")
	got, log, err := configured(t, "--config", path, "--manifest-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if got.strings["manifest-dir"] != "/from/flag" || got.strings["file-check-frequency"] != "7s" || !slices.Equal(got.lists["cluster-dns"], []string{"10.0.0.1"}) {
		t.Errorf("manifest-dir %q, file-check-frequency %q, cluster-dns %q; want the flag's, the environment's and the file's",
			got.strings["manifest-dir"], got.strings["file-check-frequency"], got.lists["cluster-dns"])
	}
	if !strings.Contains(log, `overridden_by_flags="staticPodPath (--manifest-dir),fileCheckFrequency (--file-check-frequency)"`) {
		t.Errorf("log does not say which fields flags overrode:\n%s", log)
	}
}

// TestConfigFileKubeadm: kubeadm's config.yaml runs unchanged; what runner
// does not implement is named in one warning.
func TestConfigFileKubeadm(t *testing.T) {
	got, log, err := configured(t, "--config", filepath.Join("internal", "kubeletconfig", "testdata", "kubeadm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got.strings["manifest-dir"] != "/etc/kubernetes/manifests" || got.strings["cluster-domain"] != "cluster.local" {
		t.Errorf("manifest-dir %q cluster-domain %q", got.strings["manifest-dir"], got.strings["cluster-domain"])
	}
	if n := strings.Count(log, "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, log)
	}
	for _, field := range []string{"authentication (line 2)", "authorization (line 10)", "cgroupDriver (line 15)", "rotateCertificates (line 42)"} {
		if !strings.Contains(log, field) {
			t.Errorf("the warning does not name %s:\n%s", field, log)
		}
	}
}

func TestConfigFileProblems(t *testing.T) {
	path := writeConfig(t, "staticPodPth: /x\nmaxPods: many\n")
	_, _, err := configured(t, "--config", path)
	if err == nil || !strings.Contains(err.Error(), path+`:3: staticPodPth: unknown field "staticPodPth": did you mean "staticPodPath"?`) ||
		!strings.Contains(err.Error(), path+":4: maxPods: must be an integer") {
		t.Errorf("error %v, want both problems with file:line", err)
	}
	path = writeConfig(t, "maxPods: 3000000000\n")
	_, _, err = configured(t, "--config", path)
	if err == nil || !strings.Contains(err.Error(), ":3: maxPods:") {
		t.Errorf("out of range: %v", err)
	}
	_, _, err = configured(t, "--config", filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml: cannot read") {
		t.Errorf("absent file: %v", err)
	}
}
