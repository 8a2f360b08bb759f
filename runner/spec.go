package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/runner/runtime"
)

// containerSpec turns a pod's container into what the engine creates. It
// follows the kubelet: command replaces the image's ENTRYPOINT (and drops its
// CMD), args replace CMD, $(VAR) references are expanded from the
// container's env; the container joins the sandbox's network, IPC, UTS (and
// PID when shared) namespaces. Pure but for reading nothing: safe to test.
func (r *Runner) containerSpec(pod *v1.Pod, c *v1.Container, a action, sandboxID, hash string) (runtime.ContainerSpec, error) {
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
	env, err := containerEnv(pod, c)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
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
	mounts, err := r.containerMounts(pod, c, a.attempt)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	s.Mounts = mounts
	applySecurity(&s, pod, c)
	s.Resources = containerResources(pod, c)
	s.Resources.OOMScoreAdj = max(s.Resources.OOMScoreAdj, r.oomFloor)
	return s, nil
}

// containerEnv is the container's environment as KEY=value, in order, each
// value expanded with the variables before it.
func containerEnv(pod *v1.Pod, c *v1.Container) ([]string, error) {
	vars := map[string]string{}
	out := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		val := expand(e.Value, vars)
		if e.ValueFrom != nil {
			var err error
			if val, err = envFrom(pod, c, e.ValueFrom); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		vars[e.Name] = val
		out = append(out, e.Name+"="+val)
	}
	return out, nil
}

// envFrom resolves a fieldRef or resourceFieldRef.
func envFrom(pod *v1.Pod, c *v1.Container, src *v1.EnvVarSource) (string, error) {
	if f := src.FieldRef; f != nil {
		return fieldValue(pod, f.FieldPath)
	}
	if rf := src.ResourceFieldRef; rf != nil {
		return resourceValue(c, rf)
	}
	return "", fmt.Errorf("only fieldRef and resourceFieldRef are possible without an apiserver")
}

// fieldValue is the value of a downward-API field path.
func fieldValue(pod *v1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP(), nil
	case "status.podIP", "status.podIPs":
		if pod.Spec.HostNetwork {
			return hostIP(), nil
		}
		return pod.Status.PodIP, nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[path[len(prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue is a resourceFieldRef's value: limits fall back to the
// machine's capacity, as the kubelet does.
func resourceValue(c *v1.Container, rf *v1.ResourceFieldSelector) (string, error) {
	divisor := rf.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	switch rf.Resource {
	case "limits.cpu":
		q = c.Resources.Limits[v1.ResourceCPU]
		if q.IsZero() {
			q = *resource.NewQuantity(int64(numCPU()), resource.DecimalSI)
		}
		// Round up, as the kubelet does for CPU.
		return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
	case "requests.cpu":
		q = c.Resources.Requests[v1.ResourceCPU]
		return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
	case "limits.memory":
		q = c.Resources.Limits[v1.ResourceMemory]
		if q.IsZero() {
			q = *resource.NewQuantity(memoryCapacity(), resource.BinarySI)
		}
	case "requests.memory":
		q = c.Resources.Requests[v1.ResourceMemory]
	case "limits.ephemeral-storage":
		q = c.Resources.Limits[v1.ResourceEphemeralStorage]
	case "requests.ephemeral-storage":
		q = c.Resources.Requests[v1.ResourceEphemeralStorage]
	default:
		return "", fmt.Errorf("unsupported resource %q", rf.Resource)
	}
	return strconv.FormatInt((q.Value()+divisor.Value()-1)/divisor.Value(), 10), nil
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

// containerMounts are the bind mounts of a container: its volume mounts and
// the termination-log file.
func (r *Runner) containerMounts(pod *v1.Pod, c *v1.Container, attempt int) ([]runtime.Mount, error) {
	var mounts []runtime.Mount
	for _, vm := range c.VolumeMounts {
		vol := findVolume(pod, vm.Name)
		if vol == nil {
			return nil, fmt.Errorf("volumeMount %s names no volume", vm.Name)
		}
		src, err := r.volumePath(pod, vol)
		if err != nil {
			return nil, err
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, vm.SubPath)
		}
		m := runtime.Mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly}
		if vm.MountPropagation != nil {
			switch *vm.MountPropagation {
			case v1.MountPropagationHostToContainer:
				m.Propagation = "rslave"
			case v1.MountPropagationBidirectional:
				m.Propagation = "rshared"
			}
		}
		mounts = append(mounts, m)
	}
	if r.podNetworked(pod) {
		mounts = append(mounts,
			runtime.Mount{Source: r.resolvConfPath(pod), Target: "/etc/resolv.conf"},
			runtime.Mount{Source: r.hostsPath(pod), Target: "/etc/hosts"})
	}
	if c.TerminationMessagePath != "" {
		mounts = append(mounts, runtime.Mount{
			Source: filepath.Join(r.containerDir(pod, c.Name, attempt), "termination-log"),
			Target: c.TerminationMessagePath,
		})
	}
	return mounts, nil
}

// volumePath is where a volume lives on the host.
func (r *Runner) volumePath(pod *v1.Pod, vol *v1.Volume) (string, error) {
	switch {
	case vol.HostPath != nil:
		return vol.HostPath.Path, nil
	case vol.EmptyDir != nil:
		return filepath.Join(r.podDir(pod.UID), "volumes", "empty-dir", vol.Name), nil
	case vol.DownwardAPI != nil:
		return filepath.Join(r.podDir(pod.UID), "volumes", "downward-api", vol.Name), nil
	}
	return "", fmt.Errorf("volume %s: only hostPath, emptyDir and downwardAPI volumes can be used without an apiserver", vol.Name)
}

// prepareVolume creates a volume's host side when it must exist.
func (r *Runner) prepareVolume(pod *v1.Pod, vol *v1.Volume) error {
	path, err := r.volumePath(pod, vol)
	if err != nil {
		return err
	}
	switch {
	case vol.HostPath != nil:
		return prepareHostPath(path, vol.HostPath.Type)
	case vol.EmptyDir != nil:
		if err := os.MkdirAll(path, 0o777); err != nil {
			return err
		}
		if vol.EmptyDir.Medium == v1.StorageMediumMemory {
			return mountTmpfs(path, vol.EmptyDir.SizeLimit)
		}
		return nil
	case vol.DownwardAPI != nil:
		return writeDownwardAPI(pod, path, vol.DownwardAPI)
	}
	return nil
}

// prepareHostPath checks or creates a hostPath per its type.
func prepareHostPath(path string, t *v1.HostPathType) error {
	typ := v1.HostPathUnset
	if t != nil {
		typ = *t
	}
	st, err := os.Stat(path)
	switch typ {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(path, 0o755)
		}
	case v1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath %s (type %s): %w", path, typ, err)
	}
	mode := st.Mode()
	ok := true
	switch typ {
	case v1.HostPathDirectory, v1.HostPathDirectoryOrCreate:
		ok = mode.IsDir()
	case v1.HostPathFile, v1.HostPathFileOrCreate:
		ok = mode.IsRegular()
	case v1.HostPathSocket:
		ok = mode&os.ModeSocket != 0
	case v1.HostPathCharDev:
		ok = mode&os.ModeCharDevice != 0
	case v1.HostPathBlockDev:
		ok = mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0
	}
	if !ok {
		return fmt.Errorf("hostPath %s is not a %s (it is %s)", path, typ, mode.Type())
	}
	return nil
}

// writeDownwardAPI writes a downwardAPI volume's files.
func writeDownwardAPI(pod *v1.Pod, dir string, src *v1.DownwardAPIVolumeSource) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, item := range src.Items {
		var val string
		var err error
		switch {
		case item.FieldRef != nil:
			val, err = fieldValue(pod, item.FieldRef.FieldPath)
		case item.ResourceFieldRef != nil:
			c, _ := findSpec(pod, item.ResourceFieldRef.ContainerName)
			if c == nil {
				err = fmt.Errorf("resourceFieldRef names no container %q", item.ResourceFieldRef.ContainerName)
			} else {
				val, err = resourceValue(c, item.ResourceFieldRef)
			}
		}
		if err != nil {
			return fmt.Errorf("downwardAPI item %s: %w", item.Path, err)
		}
		mode := os.FileMode(0o644)
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode)
		} else if src.DefaultMode != nil {
			mode = os.FileMode(*src.DefaultMode)
		}
		p := filepath.Join(dir, item.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := fsutil.WriteFileAtomic(p, []byte(val), mode); err != nil {
			return err
		}
	}
	return nil
}
