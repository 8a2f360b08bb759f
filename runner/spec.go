package runner

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/volume"
)

// containerSpec turns a pod's container, to be run from image img, into
// what the engine creates. It
// follows the kubelet: command replaces the image's ENTRYPOINT (and drops its
// CMD), args replace CMD, $(VAR) references are expanded from the
// container's env (given as KEY=value, see containerEnv); the container
// joins the sandbox's network, IPC, UTS (and PID when shared) namespaces.
// Mounts are added by the container prestart hooks. Pure.
func (r *Runner) containerSpec(pod *v1.Pod, c *v1.Container, a action, sandboxID, hash string, env []string, img runtime.Image) (runtime.ContainerSpec, error) {
	labels := r.podLabels(pod)
	labels[LabelContainerName] = c.Name
	labels[LabelDockerType] = TypeContainer
	labels[LabelSandboxID] = sandboxID
	labels[LabelContainerHash] = hash
	labels[LabelHashVersion] = hashVersion
	labels[LabelRestartCount] = strconv.Itoa(a.attempt)
	labels[LabelAttempt] = strconv.Itoa(a.attempt)
	if a.init {
		labels[LabelInit] = "true"
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		labels[LabelPreStopHandler] = mustJSON(c.Lifecycle.PreStop)
	}
	if len(c.Ports) > 0 {
		labels[LabelContainerPorts] = mustJSON(c.Ports)
	}
	if pod.Spec.HostNetwork {
		labels[LabelHostNetwork] = "true"
	}
	vars := envMap(env)
	s := runtime.ContainerSpec{
		Name:        containerName(c.Name, pod, a.attempt),
		Image:       c.Image,
		Labels:      labels,
		Env:         env,
		WorkingDir:  c.WorkingDir,
		TTY:         c.TTY,
		Stdin:       c.Stdin,
		NetworkMode: "container:" + sandboxID,
		IPCMode:     "container:" + sandboxID,
		LogMaxSize:  r.cfg.LogMaxSize,
		LogMaxFiles: r.cfg.LogMaxFiles,
	}
	if pod.Spec.HostIPC {
		s.IPCMode = "host"
	}
	switch {
	case pod.Spec.HostPID:
		s.PIDMode = "host"
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		s.PIDMode = "container:" + sandboxID
	}
	if len(c.Command) > 0 {
		s.Entrypoint = expandAll(c.Command, vars)
		s.Cmd = []string{}
	}
	if len(c.Args) > 0 {
		s.Cmd = expandAll(c.Args, vars)
	}
	if c.Lifecycle != nil && c.Lifecycle.StopSignal != nil {
		s.StopSignal = string(*c.Lifecycle.StopSignal)
	}
	if err := applySecurity(&s, pod, c, img.User); err != nil {
		return s, err
	}
	s.Resources = containerResources(pod, c, r.volumes.Node().MemoryBytes)
	s.Resources.OOMScoreAdj = max(s.Resources.OOMScoreAdj, r.oomFloor)
	if r.cfg.PodPidsLimit > 0 {
		s.Resources.PidsLimit = r.cfg.PodPidsLimit
	}
	return s, nil
}

// containerEnv is the container's environment as KEY=value, in order, each
// value expanded with the variables before it; fieldRef and
// resourceFieldRef are resolved as the downward API does.
func (r *Runner) containerEnv(pod *v1.Pod, c *v1.Container) ([]string, error) {
	vars := map[string]string{}
	out := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		val := expand(e.Value, vars)
		if src := e.ValueFrom; src != nil {
			var err error
			switch {
			case src.FieldRef != nil:
				val, err = volume.FieldValue(pod, src.FieldRef.FieldPath, r.volumes.Node())
			case src.ResourceFieldRef != nil:
				val, err = volume.ResourceValue(c, src.ResourceFieldRef, r.volumes.Node())
			default:
				err = fmt.Errorf("only fieldRef and resourceFieldRef are possible without an apiserver")
			}
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		vars[e.Name] = val
		out = append(out, e.Name+"="+val)
	}
	return out, nil
}

// mustJSON encodes an API value for a label (API types always encode).
func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic("runner: label value does not encode: " + err.Error())
	}
	return string(data)
}

// envMap indexes KEY=value pairs; a later key wins.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// expand replaces $(VAR) with vars[VAR] (left as is when undefined) and
// $$ with $, as the kubelet does.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func expandAll(list []string, vars map[string]string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, vars)
	}
	return out
}
