package kubeletconfig

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Setting is a field of the file that one of runner's flags implements:
// the flag takes Values in order (a list flag each of them).
type Setting struct {
	Field  string // the field's path, e.g. "staticPodPath"
	Line   int
	Flag   string // without dashes, e.g. "manifest-dir"
	Values []string
}

// Ignored is a field the file sets that runner does not implement.
type Ignored struct {
	Field string
	Line  int
	// Note says what runner does instead, when there is something to say.
	Note string
}

func (i Ignored) String() string {
	s := fmt.Sprintf("%s (line %d)", i.Field, i.Line)
	if i.Note != "" {
		s += ": " + i.Note
	}
	return s
}

// mapping ties a field (its path) to the flag that does what the field
// does; values gives the flag's values, nil when the file leaves the field
// at the kubelet's default (a zero duration, say), so runner's default
// holds.
type mapping struct {
	field, flag string
	values      func(f *File) ([]string, error)
}

// mappings are the fields runner implements. Some name flags that other
// parts of runner bring (the API server's, garbage collection's,
// eviction's): a mapping whose flag the binary lacks makes its field
// Ignored, so the table may run ahead of the flags.
var mappings = []mapping{
	{"staticPodPath", "manifest-dir", str(func(c *Configuration) string { return c.StaticPodPath })},
	{"staticPodURL", "manifest-url", str(func(c *Configuration) string { return c.StaticPodURL })},
	{"staticPodURLHeader", "manifest-url-header", headers},
	{"syncFrequency", "sync-frequency", dur(func(c *Configuration) metav1.Duration { return c.SyncFrequency })},
	{"fileCheckFrequency", "file-check-frequency", dur(func(c *Configuration) metav1.Duration { return c.FileCheckFrequency })},
	{"httpCheckFrequency", "http-check-frequency", dur(func(c *Configuration) metav1.Duration { return c.HTTPCheckFrequency })},
	{"address", "address", str(func(c *Configuration) string { return c.Address })},
	{"readOnlyPort", "read-only-port", present("readOnlyPort", func(c *Configuration) string { return itoa(c.ReadOnlyPort) })},
	{"healthzPort", "healthz-port", i32p(func(c *Configuration) *int32 { return c.HealthzPort })},
	{"healthzBindAddress", "healthz-bind-address", str(func(c *Configuration) string { return c.HealthzBindAddress })},
	{"podCIDR", "pod-cidr", str(func(c *Configuration) string { return c.PodCIDR })},
	{"clusterDNS", "cluster-dns", list(func(c *Configuration) []string { return c.ClusterDNS })},
	{"clusterDomain", "cluster-domain", str(func(c *Configuration) string { return c.ClusterDomain })},
	{"resolvConf", "resolv-conf", present("resolvConf", func(c *Configuration) string { return deref(c.ResolvConf) })},
	{"containerLogMaxSize", "container-log-max-size", str(func(c *Configuration) string { return c.ContainerLogMaxSize })},
	{"containerLogMaxFiles", "container-log-max-files", i32p(func(c *Configuration) *int32 { return c.ContainerLogMaxFiles })},
	{"maxPods", "max-pods", i32(func(c *Configuration) int32 { return c.MaxPods })},
	{"podPidsLimit", "pod-pids-limit", i64p(func(c *Configuration) *int64 { return c.PodPidsLimit })},
	{"runOnce", "runonce", flag(func(c *Configuration) bool { return c.RunOnce })},
	{"serializeImagePulls", "serialize-image-pulls", boolp(func(c *Configuration) *bool { return c.SerializeImagePulls })},
	{"maxParallelImagePulls", "max-parallel-image-pulls", i32p(func(c *Configuration) *int32 { return c.MaxParallelImagePulls })},
	{"registryPullQPS", "registry-qps", i32p(func(c *Configuration) *int32 { return c.RegistryPullQPS })},
	{"registryBurst", "registry-burst", i32(func(c *Configuration) int32 { return c.RegistryBurst })},
	{"crashLoopBackOff.maxContainerRestartPeriod", "restart-backoff-max", durp(func(c *Configuration) *metav1.Duration { return c.CrashLoopBackOff.MaxContainerRestartPeriod })},
	{"imageMinimumGCAge", "minimum-image-ttl-duration", dur(func(c *Configuration) metav1.Duration { return c.ImageMinimumGCAge })},
	{"imageMaximumGCAge", "image-maximum-gc-age", dur(func(c *Configuration) metav1.Duration { return c.ImageMaximumGCAge })},
	{"imageGCHighThresholdPercent", "image-gc-high-threshold", i32p(func(c *Configuration) *int32 { return c.ImageGCHighThresholdPercent })},
	{"imageGCLowThresholdPercent", "image-gc-low-threshold", i32p(func(c *Configuration) *int32 { return c.ImageGCLowThresholdPercent })},
	{"evictionHard", "eviction-hard", thresholds(func(c *Configuration) map[string]string { return c.EvictionHard }, "<")},
	{"evictionSoft", "eviction-soft", thresholds(func(c *Configuration) map[string]string { return c.EvictionSoft }, "<")},
	{"evictionSoftGracePeriod", "eviction-soft-grace-period", thresholds(func(c *Configuration) map[string]string { return c.EvictionSoftGracePeriod }, "=")},
	{"evictionMinimumReclaim", "eviction-minimum-reclaim", thresholds(func(c *Configuration) map[string]string { return c.EvictionMinimumReclaim }, "=")},
	{"evictionPressureTransitionPeriod", "eviction-pressure-transition-period", dur(func(c *Configuration) metav1.Duration { return c.EvictionPressureTransitionPeriod })},
	{"evictionMaxPodGracePeriod", "eviction-max-pod-grace-period", i32(func(c *Configuration) int32 { return c.EvictionMaxPodGracePeriod })},
}

// notes say what runner does instead of a field it does not implement.
var notes = map[string]string{
	"authentication":           "runner's API is read-only and serves no credentials; keep it on loopback (--address)",
	"authorization":            "runner's API is read-only and serves no credentials; keep it on loopback (--address)",
	"containerRuntimeEndpoint": "runner runs pods with Docker (--docker-endpoint)",
	"cgroupDriver":             "Docker's cgroup driver is used",
	"rotateCertificates":       "runner registers with no apiserver",
	"serverTLSBootstrap":       "runner registers with no apiserver",
	"registerNode":             "runner registers with no apiserver",
	"featureGates":             "runner has no feature gates",
	"logging":                  "use --log-format and --log-level",
	"port":                     "runner serves no read-write API",
	"tlsCertFile":              "runner serves no TLS API",
	"tlsPrivateKeyFile":        "runner serves no TLS API",
}

// Settings are the file's fields that runner implements, as flag values,
// in the order of the table, and the fields it sets that runner does not
// implement, in the order of the file. hasFlag reports whether the binary
// has a flag. Pure.
func (f *File) Settings(hasFlag func(name string) bool) ([]Setting, []Ignored, error) {
	var settings []Setting
	handled := map[string]bool{}
	for _, m := range mappings {
		if !f.set(m.field) {
			continue
		}
		values, err := m.values(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %s: %w", f.Path, f.Lines[m.field], m.field, err)
		}
		if values == nil || !hasFlag(m.flag) {
			// Left at the kubelet's default, or not in this binary: Ignored
			// says which (a default is no value, and is not listed).
			handled[m.field] = values == nil
			continue
		}
		handled[m.field] = true
		settings = append(settings, Setting{Field: m.field, Line: f.Lines[m.field], Flag: m.flag, Values: values})
	}
	ignored := f.ignored(reflect.ValueOf(&f.Config).Elem(), "", handled)
	slices.SortStableFunc(ignored, func(a, b Ignored) int { return a.Line - b.Line })
	return settings, ignored, nil
}

// ignored lists the fields under v (a struct at path) that the file sets
// to something other than their zero value and that no setting handled.
func (f *File) ignored(v reflect.Value, path string, handled map[string]bool) []Ignored {
	var out []Ignored
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous || name == "" {
			continue // apiVersion and kind
		}
		field := name
		if path != "" {
			field = path + "." + name
		}
		fv := v.Field(i)
		switch {
		case !f.set(field) || handled[field]:
		case hasMappingUnder(field):
			for fv.Kind() == reflect.Pointer && !fv.IsNil() {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				out = append(out, f.ignored(fv, field, handled)...)
			}
		case !isZero(fv):
			note := notes[name]
			if m, ok := mappingOf(field); ok {
				note = "this runner has no --" + m.flag
			}
			out = append(out, Ignored{Field: field, Line: f.Lines[field], Note: note})
		}
	}
	return out
}

// zeroer is a value that knows when it is zero (resource.Quantity: "0"
// parses to a value whose fields are not all zero).
type zeroer interface{ IsZero() bool }

// isZero reports whether v holds only zero values.
func isZero(v reflect.Value) bool {
	if v.CanAddr() && v.Addr().CanInterface() {
		if z, ok := v.Addr().Interface().(zeroer); ok {
			return z.IsZero()
		}
	}
	if v.Kind() == reflect.Struct {
		for i := range v.NumField() {
			if !isZero(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return v.IsZero()
}

func hasMappingUnder(path string) bool {
	return slices.ContainsFunc(mappings, func(m mapping) bool { return strings.HasPrefix(m.field, path+".") })
}

func mappingOf(field string) (mapping, bool) {
	i := slices.IndexFunc(mappings, func(m mapping) bool { return m.field == field })
	if i < 0 {
		return mapping{}, false
	}
	return mappings[i], true
}

// Value helpers: each reads one field and says how a flag takes it.

func str(get func(*Configuration) string) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if s := get(&f.Config); s != "" {
			return []string{s}, nil
		}
		return nil, nil
	}
}

// present is a field whose zero value means something (readOnlyPort: 0
// turns the port off): set whenever the file names it.
func present(field string, get func(*Configuration) string) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if !f.set(field) {
			return nil, nil
		}
		return []string{get(&f.Config)}, nil
	}
}

// dur: a zero duration is the kubelet's default (kubeadm writes 0s).
func dur(get func(*Configuration) metav1.Duration) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if d := get(&f.Config); d.Duration != 0 {
			return []string{d.Duration.String()}, nil
		}
		return nil, nil
	}
}

func durp(get func(*Configuration) *metav1.Duration) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if d := get(&f.Config); d != nil {
			return []string{d.Duration.String()}, nil
		}
		return nil, nil
	}
}

// i32: zero is the kubelet's default.
func i32(get func(*Configuration) int32) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if n := get(&f.Config); n != 0 {
			return []string{itoa(n)}, nil
		}
		return nil, nil
	}
}

func i32p(get func(*Configuration) *int32) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if p := get(&f.Config); p != nil {
			return []string{itoa(*p)}, nil
		}
		return nil, nil
	}
}

func i64p(get func(*Configuration) *int64) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if p := get(&f.Config); p != nil {
			return []string{strconv.FormatInt(*p, 10)}, nil
		}
		return nil, nil
	}
}

func boolp(get func(*Configuration) *bool) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if p := get(&f.Config); p != nil {
			return []string{strconv.FormatBool(*p)}, nil
		}
		return nil, nil
	}
}

// flag: false is the default.
func flag(get func(*Configuration) bool) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		if get(&f.Config) {
			return []string{"true"}, nil
		}
		return nil, nil
	}
}

func list(get func(*Configuration) []string) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		return noCommas(get(&f.Config))
	}
}

// thresholds writes a map of signal to value as the kubelet's flags do:
// "memory.available<100Mi" (op "<") or "memory.available=1m30s" ("="),
// sorted by signal.
func thresholds(get func(*Configuration) map[string]string, op string) func(*File) ([]string, error) {
	return func(f *File) ([]string, error) {
		m := get(&f.Config)
		var out []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, k+op+m[k])
		}
		return noCommas(out)
	}
}

// headers writes staticPodURLHeader as --manifest-url-header's Key:Value.
func headers(f *File) ([]string, error) {
	h := f.Config.StaticPodURLHeader
	var out []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			out = append(out, k+":"+v)
		}
	}
	return noCommas(out)
}

// noCommas refuses values a list flag would split at their commas.
func noCommas(values []string) ([]string, error) {
	for _, v := range values {
		if strings.Contains(v, ",") {
			return nil, fmt.Errorf("%q: runner cannot take a value with a comma here; give the flag instead", v)
		}
	}
	return values, nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
