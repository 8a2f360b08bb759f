package docker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/strslice"

	"github.com/runner-dev/runner/runner/runtime"
)

// createConfig translates a ContainerSpec into the engine's create request.
// It is pure; CreateContainer calls it.
//
// Hostname and Domainname are dropped, not sent, when the container shares
// another's UTS namespace: NetworkMode "container:<id>" or "host", or UTSMode
// "host". Docker rejects a hostname with those modes (or, with host networking,
// would give the container a private UTS namespace of that name), and in them
// the name comes from the namespace's owner: the sandbox, or the node.
//
// Bind mounts go through HostConfig.Binds ("src:dst:ro,rshared,Z"), which,
// unlike the Mounts API, creates a missing source directory and supports
// SELinux relabelling; a path holding ':' or ',' cannot be expressed there
// and is an error.
func createConfig(spec runtime.ContainerSpec) (*container.Config, *container.HostConfig, error) {
	cfg := &container.Config{
		Image:      spec.Image,
		Env:        spec.Env,
		WorkingDir: spec.WorkingDir,
		User:       spec.User,
		Labels:     spec.Labels,
		StopSignal: spec.StopSignal,
		Tty:        spec.TTY,
		OpenStdin:  spec.Stdin,
	}
	if spec.Entrypoint != nil {
		cfg.Entrypoint = strslice.StrSlice(spec.Entrypoint)
	}
	if spec.Cmd != nil {
		cfg.Cmd = strslice.StrSlice(spec.Cmd)
	}
	if !sharesUTS(spec) {
		cfg.Hostname = spec.Hostname
		cfg.Domainname = spec.Domainname
	}

	binds, err := bindsOf(spec.Mounts)
	if err != nil {
		return nil, nil, err
	}
	securityOpt := spec.SecurityOpt
	if spec.NoNewPrivs && !slices.Contains(securityOpt, "no-new-privileges") && !slices.Contains(securityOpt, "no-new-privileges:true") {
		securityOpt = append(append([]string(nil), securityOpt...), "no-new-privileges")
	}
	host := &container.HostConfig{
		Binds:          binds,
		NetworkMode:    container.NetworkMode(spec.NetworkMode),
		IpcMode:        container.IpcMode(spec.IPCMode),
		PidMode:        container.PidMode(spec.PIDMode),
		UTSMode:        container.UTSMode(spec.UTSMode),
		DNS:            spec.DNS,
		DNSSearch:      spec.DNSSearch,
		DNSOptions:     spec.DNSOptions,
		ExtraHosts:     spec.ExtraHosts,
		GroupAdd:       spec.GroupAdd,
		Tmpfs:          spec.Tmpfs,
		ShmSize:        spec.ShmSize,
		Sysctls:        spec.Sysctls,
		ReadonlyRootfs: spec.ReadOnly,
		Privileged:     spec.Privileged,
		CapAdd:         strslice.StrSlice(spec.CapAdd),
		CapDrop:        strslice.StrSlice(spec.CapDrop),
		SecurityOpt:    securityOpt,
		MaskedPaths:    spec.MaskedPaths,
		OomScoreAdj:    spec.Resources.OOMScoreAdj,
		Resources: container.Resources{
			CPUShares:    spec.Resources.CPUShares,
			CPUQuota:     spec.Resources.CPUQuota,
			CPUPeriod:    spec.Resources.CPUPeriod,
			Memory:       spec.Resources.MemoryLimit,
			CgroupParent: spec.CgroupParent,
		},
		LogConfig: logConfig(spec),
	}
	if spec.Resources.PidsLimit != 0 {
		limit := spec.Resources.PidsLimit
		host.Resources.PidsLimit = &limit
	}
	return cfg, host, nil
}

// sharesUTS reports whether the container lives in a UTS namespace it does
// not own, where Docker forbids setting a hostname.
func sharesUTS(spec runtime.ContainerSpec) bool {
	return spec.NetworkMode == "host" ||
		strings.HasPrefix(spec.NetworkMode, "container:") ||
		spec.UTSMode == "host"
}

// bindsOf renders mounts in the Binds syntax "src:dst[:opt,opt]".
func bindsOf(mounts []runtime.Mount) ([]string, error) {
	if len(mounts) == 0 {
		return nil, nil
	}
	binds := make([]string, 0, len(mounts))
	for _, m := range mounts {
		if m.Source == "" || m.Target == "" {
			return nil, fmt.Errorf("bind mount %q:%q: source and target are required", m.Source, m.Target)
		}
		if strings.ContainsAny(m.Source, ":,") || strings.ContainsAny(m.Target, ":,") {
			return nil, fmt.Errorf("bind mount %s:%s: a path with ':' or ',' cannot be bound", m.Source, m.Target)
		}
		var opts []string
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		if m.Propagation != "" {
			switch m.Propagation {
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				opts = append(opts, m.Propagation)
			default:
				return nil, fmt.Errorf("bind mount %s:%s: unknown propagation %q", m.Source, m.Target, m.Propagation)
			}
		}
		if m.SELinuxRelabel {
			opts = append(opts, "Z")
		}
		bind := m.Source + ":" + m.Target
		if len(opts) > 0 {
			bind += ":" + strings.Join(opts, ",")
		}
		binds = append(binds, bind)
	}
	return binds, nil
}

// logConfig selects the json-file driver with rotation when the spec asks
// for rotation; otherwise the engine's default driver and options.
func logConfig(spec runtime.ContainerSpec) container.LogConfig {
	if spec.LogMaxSize == "" && spec.LogMaxFiles <= 0 {
		return container.LogConfig{}
	}
	opts := map[string]string{}
	if spec.LogMaxSize != "" {
		opts["max-size"] = spec.LogMaxSize
	}
	if spec.LogMaxFiles > 0 {
		opts["max-file"] = strconv.Itoa(spec.LogMaxFiles)
	}
	return container.LogConfig{Type: "json-file", Config: opts}
}
