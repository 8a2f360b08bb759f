package kubeletconfig

import (
	"slices"
	"strings"
	"testing"
)

func all(string) bool { return true }

func load(t *testing.T, path string) *File {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return f
}

// settingsOf maps flag → values.
func settingsOf(t *testing.T, f *File, hasFlag func(string) bool) (map[string][]string, []Ignored) {
	t.Helper()
	settings, ignored, err := f.Settings(hasFlag)
	if err != nil {
		t.Fatalf("Settings: %v", err)
	}
	out := map[string][]string{}
	for _, s := range settings {
		if _, dup := out[s.Flag]; dup {
			t.Errorf("flag %s set twice", s.Flag)
		}
		out[s.Flag] = s.Values
		if s.Line != f.Lines[s.Field] || s.Line == 0 {
			t.Errorf("setting %s: line %d, want %d", s.Field, s.Line, f.Lines[s.Field])
		}
	}
	return out, ignored
}

// TestEveryFieldRunnerImplements: each field of runner.yaml becomes its
// flag's value, nothing is ignored.
func TestEveryFieldRunnerImplements(t *testing.T) {
	f := load(t, "testdata/runner.yaml")
	got, ignored := settingsOf(t, f, all)
	want := map[string][]string{
		"manifest-dir":                        {"/etc/runner/manifests"},
		"manifest-url":                        {"http://127.0.0.1:8080/pods.yaml"},
		"manifest-url-header":                 {"Authorization:Bearer abc", "X-Node:edge-1", "X-Node:edge-2"},
		"sync-frequency":                      {"30s"},
		"file-check-frequency":                {"5s"},
		"http-check-frequency":                {"1m0s"},
		"address":                             {"127.0.0.2"},
		"read-only-port":                      {"0"},
		"healthz-port":                        {"10249"},
		"healthz-bind-address":                {"127.0.0.3"},
		"pod-cidr":                            {"10.99.0.0/24"},
		"cluster-dns":                         {"10.96.0.10", "10.96.0.11"},
		"cluster-domain":                      {"edge.local"},
		"resolv-conf":                         {""},
		"container-log-max-size":              {"20Mi"},
		"container-log-max-files":             {"3"},
		"max-pods":                            {"30"},
		"pod-pids-limit":                      {"1024"},
		"runonce":                             {"true"},
		"serialize-image-pulls":               {"false"},
		"max-parallel-image-pulls":            {"2"},
		"registry-qps":                        {"0"},
		"registry-burst":                      {"20"},
		"restart-backoff-max":                 {"1m0s"},
		"minimum-image-ttl-duration":          {"5m0s"},
		"image-maximum-gc-age":                {"168h0m0s"},
		"image-gc-high-threshold":             {"90"},
		"image-gc-low-threshold":              {"70"},
		"eviction-hard":                       {"memory.available<200Mi", "nodefs.available<5%"},
		"eviction-soft":                       {"memory.available<500Mi"},
		"eviction-soft-grace-period":          {"memory.available=1m30s"},
		"eviction-minimum-reclaim":            {"memory.available=100Mi"},
		"eviction-pressure-transition-period": {"2m0s"},
		"eviction-max-pod-grace-period":       {"30"},
	}
	for flag, values := range want {
		if !slices.Equal(got[flag], values) {
			t.Errorf("--%s = %q, want %q", flag, got[flag], values)
		}
	}
	for flag := range got {
		if _, ok := want[flag]; !ok {
			t.Errorf("unexpected --%s = %q", flag, got[flag])
		}
	}
	if len(mappings) != len(want) {
		t.Errorf("runner.yaml covers %d of the %d mapped fields", len(want), len(mappings))
	}
	if len(ignored) != 0 {
		t.Errorf("ignored %v, want none", ignored)
	}
}

// TestFlagMissing: a field whose flag the binary lacks is ignored, and its
// note says so.
func TestFlagMissing(t *testing.T) {
	f := load(t, "testdata/runner.yaml")
	got, ignored := settingsOf(t, f, func(name string) bool { return !strings.HasPrefix(name, "eviction-") })
	if _, ok := got["eviction-hard"]; ok {
		t.Errorf("eviction-hard set without its flag")
	}
	var names []string
	for _, i := range ignored {
		names = append(names, i.Field)
		if !strings.Contains(i.Note, "this runner has no --eviction-") {
			t.Errorf("note of %s: %q", i.Field, i.Note)
		}
	}
	want := []string{"evictionHard", "evictionSoft", "evictionSoftGracePeriod", "evictionMinimumReclaim", "evictionPressureTransitionPeriod", "evictionMaxPodGracePeriod"}
	if !slices.Equal(names, want) {
		t.Errorf("ignored %v, want %v (in file order)", names, want)
	}
}

// TestKubeadmConfig: a kubeadm node's /var/lib/kubelet/config.yaml loads
// unchanged; its zero durations keep runner's defaults; what runner does
// not implement is listed once, in file order.
func TestKubeadmConfig(t *testing.T) {
	f := load(t, "testdata/kubeadm.yaml")
	onMain := func(name string) bool { return !strings.HasPrefix(name, "healthz-") }
	got, ignored := settingsOf(t, f, onMain)
	want := map[string][]string{
		"manifest-dir":   {"/etc/kubernetes/manifests"},
		"cluster-dns":    {"10.96.0.10"},
		"cluster-domain": {"cluster.local"},
		"resolv-conf":    {"/run/systemd/resolve/resolv.conf"},
	}
	if len(got) != len(want) {
		t.Errorf("settings %v, want %v", got, want)
	}
	for flag, values := range want {
		if !slices.Equal(got[flag], values) {
			t.Errorf("--%s = %q, want %q", flag, got[flag], values)
		}
	}
	var names []string
	for _, i := range ignored {
		names = append(names, i.Field)
	}
	wantIgnored := []string{"authentication", "authorization", "cgroupDriver", "healthzBindAddress", "healthzPort", "rotateCertificates"}
	if !slices.Equal(names, wantIgnored) {
		t.Errorf("ignored %v, want %v", names, wantIgnored)
	}
	if ignored[0].Line != 2 || !strings.Contains(ignored[0].String(), "authentication (line 2): runner's API is read-only") {
		t.Errorf("first ignored = %q", ignored[0])
	}
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"misspelt", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPth: /x\n",
			`c.yaml:3: staticPodPth: unknown field "staticPodPth": did you mean "staticPodPath"?`},
		{"nested", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509:\n    clientCA: /x\n",
			`c.yaml:5: authentication.x509.clientCA: unknown field "clientCA"`},
		{"duration", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nsyncFrequency: often\n",
			`c.yaml:3: syncFrequency: invalid value "often"`},
		{"type", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: many\n",
			`c.yaml:3: maxPods: must be an integer`},
		{"apiVersion", "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n",
			`c.yaml:1: apiVersion: Unsupported value "kubelet.config.k8s.io/v1": must be "kubelet.config.k8s.io/v1beta1"`},
		{"kind", "apiVersion: kubelet.config.k8s.io/v1beta1\n",
			`c.yaml:1: kind: Required value: must be "KubeletConfiguration"`},
		{"flushFrequency", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nlogging:\n  flushFrequency: soon\n",
			`c.yaml:4: logging.flushFrequency: invalid value "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := Parse("c.yaml", []byte(tc.data))
			if len(problems) != 1 || !strings.HasPrefix(problems[0].String(), tc.want) {
				t.Errorf("problems %q, want one starting %q", problems, tc.want)
			}
		})
	}
}

func TestFlushFrequencyForms(t *testing.T) {
	for data, want := range map[string]string{"5000000000": "5s", `"5s"`: "5s", "0": "0s"} {
		f, problems := Parse("c.yaml", []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nlogging:\n  flushFrequency: "+data+"\n"))
		if problems != nil {
			t.Fatalf("%s: %v", data, problems)
		}
		if got := f.Config.Logging.FlushFrequency.Duration.String(); got != want {
			t.Errorf("flushFrequency %s = %s, want %s", data, got, want)
		}
	}
}

func TestCommaRefused(t *testing.T) {
	f, problems := Parse("c.yaml", []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodURLHeader:\n  Accept: [\"a,b\"]\n"))
	if problems != nil {
		t.Fatal(problems)
	}
	if _, _, err := f.Settings(all); err == nil || !strings.Contains(err.Error(), "c.yaml:3: staticPodURLHeader:") {
		t.Errorf("Settings = %v, want the comma refused at c.yaml:3", err)
	}
}
