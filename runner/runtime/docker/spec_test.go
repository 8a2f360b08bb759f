package docker

import (
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/strslice"

	"github.com/runner-dev/runner/runner/runtime"
)

func TestCreateConfigMapsEveryField(t *testing.T) {
	spec := runtime.ContainerSpec{
		Name:        "k8s_app_pod_ns_uid_0",
		Image:       "busybox:1.36",
		Labels:      map[string]string{"a": "b"},
		Entrypoint:  []string{"/bin/sh"},
		Cmd:         []string{"-c", "true"},
		Env:         []string{"A=1"},
		WorkingDir:  "/work",
		User:        "1000:1000",
		GroupAdd:    []string{"50"},
		Hostname:    "pod",
		Domainname:  "example.org",
		TTY:         true,
		Stdin:       true,
		StopSignal:  "SIGINT",
		NetworkMode: "none",
		IPCMode:     "shareable",
		PIDMode:     "container:abc",
		UTSMode:     "",
		DNS:         []string{"10.0.0.10"},
		DNSSearch:   []string{"ns.svc.cluster.local"},
		DNSOptions:  []string{"ndots:5"},
		ExtraHosts:  []string{"db:10.0.0.3"},
		Mounts: []runtime.Mount{
			{Source: "/src", Target: "/dst"},
			{Source: "/ro", Target: "/ro", ReadOnly: true, Propagation: "rslave", SELinuxRelabel: true},
		},
		Tmpfs:        map[string]string{"/tmp": "size=64m"},
		ShmSize:      1 << 26,
		Sysctls:      map[string]string{"net.core.somaxconn": "1024"},
		ReadOnly:     true,
		Privileged:   true,
		CapAdd:       []string{"NET_ADMIN"},
		CapDrop:      []string{"ALL"},
		SecurityOpt:  []string{"seccomp=unconfined"},
		MaskedPaths:  []string{},
		NoNewPrivs:   true,
		Resources:    runtime.Resources{CPUShares: 512, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 1 << 28, PidsLimit: 100, OOMScoreAdj: -997},
		CgroupParent: "/runner/pod",
		LogMaxSize:   "10m",
		LogMaxFiles:  3,
	}
	cfg, host, err := createConfig(spec)
	if err != nil {
		t.Fatalf("createConfig: %v", err)
	}
	wantCfg := &container.Config{
		Hostname: "pod", Domainname: "example.org", User: "1000:1000",
		Tty: true, OpenStdin: true, Env: []string{"A=1"},
		Cmd: strslice.StrSlice{"-c", "true"}, Image: "busybox:1.36", WorkingDir: "/work",
		Entrypoint: strslice.StrSlice{"/bin/sh"}, Labels: map[string]string{"a": "b"}, StopSignal: "SIGINT",
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, wantCfg)
	}
	pids := int64(100)
	wantHost := &container.HostConfig{
		Binds:       []string{"/src:/dst", "/ro:/ro:ro,rslave,Z"},
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
		NetworkMode: "none", IpcMode: "shareable", PidMode: "container:abc",
		CapAdd: strslice.StrSlice{"NET_ADMIN"}, CapDrop: strslice.StrSlice{"ALL"},
		DNS: []string{"10.0.0.10"}, DNSOptions: []string{"ndots:5"}, DNSSearch: []string{"ns.svc.cluster.local"},
		ExtraHosts: []string{"db:10.0.0.3"}, GroupAdd: []string{"50"}, OomScoreAdj: -997,
		Privileged: true, ReadonlyRootfs: true,
		SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"},
		Tmpfs:       map[string]string{"/tmp": "size=64m"}, ShmSize: 1 << 26,
		Sysctls: map[string]string{"net.core.somaxconn": "1024"},
		Resources: container.Resources{
			CPUShares: 512, Memory: 1 << 28, CgroupParent: "/runner/pod",
			CPUPeriod: 100000, CPUQuota: 50000, PidsLimit: &pids,
		},
		MaskedPaths: []string{},
	}
	if !reflect.DeepEqual(host, wantHost) {
		t.Errorf("host config\n got %+v\nwant %+v", host, wantHost)
	}
	if spec.SecurityOpt[0] != "seccomp=unconfined" || len(spec.SecurityOpt) != 1 {
		t.Errorf("createConfig changed the caller's SecurityOpt: %v", spec.SecurityOpt)
	}
}

func TestCreateConfigDefaults(t *testing.T) {
	cfg, host, err := createConfig(runtime.ContainerSpec{Image: "busybox"})
	if err != nil {
		t.Fatalf("createConfig: %v", err)
	}
	// nil Entrypoint/Cmd/MaskedPaths are sent as null: the image's and the
	// engine's defaults.
	if cfg.Entrypoint != nil || cfg.Cmd != nil || host.MaskedPaths != nil {
		t.Errorf("entrypoint %v cmd %v masked %v, want nil", cfg.Entrypoint, cfg.Cmd, host.MaskedPaths)
	}
	if host.LogConfig.Type != "" || host.PidsLimit != nil || host.Binds != nil {
		t.Errorf("log config %+v pids %v binds %v, want the engine's defaults", host.LogConfig, host.PidsLimit, host.Binds)
	}
	// An empty, non-nil Entrypoint clears the image's.
	cfg, _, _ = createConfig(runtime.ContainerSpec{Image: "busybox", Entrypoint: []string{}})
	if cfg.Entrypoint == nil || len(cfg.Entrypoint) != 0 {
		t.Errorf("empty entrypoint became %#v, want empty and non-nil", cfg.Entrypoint)
	}
}

func TestCreateConfigDropsHostnameInSharedUTS(t *testing.T) {
	for _, tc := range []struct {
		network, uts string
		keep         bool
	}{
		{"", "", true},
		{"none", "", true},
		{"bridge", "", true},
		{"host", "", false},
		{"container:abc", "", false},
		{"none", "host", false},
	} {
		cfg, _, err := createConfig(runtime.ContainerSpec{Hostname: "h", Domainname: "d", NetworkMode: tc.network, UTSMode: tc.uts})
		if err != nil {
			t.Fatalf("createConfig: %v", err)
		}
		if kept := cfg.Hostname == "h" && cfg.Domainname == "d"; kept != tc.keep {
			t.Errorf("network %q uts %q: hostname %q domainname %q, want kept=%v", tc.network, tc.uts, cfg.Hostname, cfg.Domainname, tc.keep)
		}
	}
}

func TestCreateConfigRejectsBadMounts(t *testing.T) {
	for _, m := range []runtime.Mount{
		{Source: "/a:b", Target: "/c"},
		{Source: "/a", Target: "/c,d"},
		{Source: "", Target: "/c"},
		{Source: "/a", Target: "/c", Propagation: "sideways"},
	} {
		if _, _, err := createConfig(runtime.ContainerSpec{Mounts: []runtime.Mount{m}}); err == nil {
			t.Errorf("mount %+v accepted, want an error", m)
		}
	}
}

func TestCreateConfigKeepsExplicitNoNewPrivileges(t *testing.T) {
	_, host, _ := createConfig(runtime.ContainerSpec{NoNewPrivs: true, SecurityOpt: []string{"no-new-privileges:true"}})
	if strings.Join(host.SecurityOpt, ",") != "no-new-privileges:true" {
		t.Errorf("SecurityOpt %v, want the caller's single no-new-privileges", host.SecurityOpt)
	}
}
