package compat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// step is one element of a field path: a field, the first item of a list,
// or a key of a map.
type step struct {
	field string
	index bool
	key   string
}

type leaf struct {
	path   []step
	values []any
}

func (l leaf) String() string {
	var b strings.Builder
	for _, s := range l.path {
		switch {
		case s.index:
			b.WriteString("[0]")
		case s.key != "":
			b.WriteString("[" + s.key + "]")
		default:
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(s.field)
		}
	}
	return b.String()
}

var (
	quantityType = reflect.TypeFor[resource.Quantity]()
	intstrType   = reflect.TypeFor[intstr.IntOrString]()
	timeType     = reflect.TypeFor[metav1.Time]()
)

// leaves lists every leaf field under t (pointers followed, lists entered
// at their first item, maps at one key), each with the values tried there.
func leaves(t reflect.Type, path []step, depth int, out *[]leaf) {
	if depth > 12 {
		return
	}
	add := func(values ...any) { *out = append(*out, leaf{append([]step(nil), path...), values}) }
	switch t {
	case quantityType:
		add("-1", "0", "1", "100m", "1.5", "x")
		return
	case intstrType:
		add(0, 80, 70000, "http", "", "Bad_Name")
		return
	case timeType:
		add("2024-01-01T00:00:00Z")
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		leaves(t.Elem(), path, depth, out)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
				leaves(f.Type, path, depth+1, out)
				continue
			}
			if name == "status" || name == "apiVersion" || name == "kind" {
				continue
			}
			leaves(f.Type, append(path, step{field: name}), depth+1, out)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		leaves(t.Elem(), append(path, step{index: true}), depth+1, out)
	case reflect.Map:
		key := "example.com/k"
		if t.Key() == reflect.TypeFor[v1.ResourceName]() {
			for _, k := range []string{"cpu", "memory", "example.com/gpu"} {
				leaves(t.Elem(), append(path, step{key: k}), depth+1, out)
			}
			return
		}
		leaves(t.Elem(), append(path, step{key: key}), depth+1, out)
	case reflect.String:
		add("", "a", "Bad_Value!", "/x/../y", strings.Repeat("a", 300))
	case reflect.Bool:
		add(true, false)
	case reflect.Int, reflect.Int32, reflect.Int64:
		add(-1, 0, 1, 65536)
	}
}

// basePod is the valid pod every sweep sets one leaf of: a container and
// an emptyDir volume "v".
func basePod() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
		"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], "volumes": [{"name": "v", "emptyDir": {}}]}}`), &m)
	return m
}

// prefill is what an object made on the way to a leaf holds, by its field
// name (for a list, what its first item holds), so that it is valid but for
// the leaf and the leaf's own checks are reached.
var prefill = map[string]func() map[string]any{
	"initContainers":      func() map[string]any { return map[string]any{"name": "i", "image": "busybox:1.36"} },
	"ephemeralContainers": func() map[string]any { return map[string]any{"name": "e", "image": "busybox:1.36"} },
	"env":                 func() map[string]any { return map[string]any{"name": "E"} },
	"ports":               func() map[string]any { return map[string]any{"containerPort": 80} },
	"volumeMounts":        func() map[string]any { return map[string]any{"name": "v", "mountPath": "/m"} },
	"livenessProbe":       execProbe,
	"readinessProbe":      execProbe,
	"startupProbe":        execProbe,
	"postStart":           execProbe,
	"preStop":             execProbe,
	"httpGet":             func() map[string]any { return map[string]any{"port": 80} },
	"tcpSocket":           func() map[string]any { return map[string]any{"port": 80} },
	"grpc":                func() map[string]any { return map[string]any{"port": 80} },
	"hostPath":            func() map[string]any { return map[string]any{"path": "/tmp"} },
	"items": func() map[string]any {
		return map[string]any{"path": "f", "fieldRef": map[string]any{"fieldPath": "metadata.name"}}
	},
	"tolerations":  func() map[string]any { return map[string]any{"operator": "Exists"} },
	"hostAliases":  func() map[string]any { return map[string]any{"ip": "127.0.0.1", "hostnames": []any{"a"}} },
	"sysctls":      func() map[string]any { return map[string]any{"name": "kernel.msgmax", "value": "1"} },
	"httpHeaders":  func() map[string]any { return map[string]any{"name": "X", "value": "y"} },
	"options":      func() map[string]any { return map[string]any{"name": "ndots"} },
	"image":        func() map[string]any { return map[string]any{"reference": "busybox:1.36"} },
	"sources":      func() map[string]any { return map[string]any{} },
	"capabilities": func() map[string]any { return map[string]any{} },
}

func execProbe() map[string]any {
	return map[string]any{"exec": map[string]any{"command": []any{"true"}}}
}

// volumeSources are the JSON names of a Volume's sources: going into one
// replaces the base volume's emptyDir.
var volumeSources = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[v1.VolumeSource]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}()

// set puts value at path in doc, making the objects and lists on the way.
func set(doc map[string]any, path []step, value any) {
	cur := doc
	for i := 0; i < len(path); i++ {
		s := path[i]
		name := s.field
		if s.key != "" {
			name = s.key
		}
		if volumeSources[name] && cur["name"] == "v" {
			delete(cur, "emptyDir")
		}
		switch name {
		case "httpGet", "tcpSocket", "grpc", "sleep":
			delete(cur, "exec") // a probe or hook has one action
		}
		last := i == len(path)-1
		if last {
			cur[name] = value
			return
		}
		if path[i+1].index {
			list, _ := cur[name].([]any)
			if len(list) == 0 {
				item := any(map[string]any{})
				if f := prefill[name]; f != nil {
					item = f()
				}
				list = []any{item}
				cur[name] = list
			}
			if i+1 == len(path)-1 {
				list[0] = value
				return
			}
			item, ok := list[0].(map[string]any)
			if !ok {
				return
			}
			cur = item
			i++ // the index step
			continue
		}
		child, ok := cur[name].(map[string]any)
		if !ok {
			child = map[string]any{}
			if f := prefill[name]; f != nil && s.key == "" {
				child = f()
			}
			cur[name] = child
		}
		cur = child
	}
}

// TestFieldSweep sets every leaf field of a Pod, one at a time, to values
// that are valid, invalid or on the edge, and compares runner's reading
// with the kubelet's. It lists each difference once per field.
func TestFieldSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: thousands of comparisons")
	}
	var all []leaf
	leaves(reflect.TypeFor[v1.Pod](), nil, 0, &all)
	differ := map[string][]string{}
	n := 0
	for _, l := range all {
		for _, v := range l.values {
			doc := basePod()
			set(doc, l.path, v)
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			n++
			r := Compare(data)
			record("sweep "+l.String(), r)
			if r.Verdict == Differ {
				differ[l.String()] = append(differ[l.String()], fmt.Sprintf("%v: %s", v, firstLine(r.Detail)))
			}
		}
	}
	keys := make([]string, 0, len(differ))
	for k := range differ {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("%s:\n  %s", k, strings.Join(differ[k], "\n  "))
	}
	t.Logf("%d fields, %d comparisons, %d fields differ", len(all), n, len(keys))
}
