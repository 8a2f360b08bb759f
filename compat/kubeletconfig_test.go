package compat

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/runner-dev/runner/internal/kubeletconfig"
)

// TestKubeletConfigurationFields: runner's --config knows every field of
// the kubelet's KubeletConfiguration, nested ones too, and no other.
func TestKubeletConfigurationFields(t *testing.T) {
	want := jsonPaths(reflect.TypeFor[kubeletv1beta1.KubeletConfiguration](), "")
	got := jsonPaths(reflect.TypeFor[kubeletconfig.Configuration](), "")
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("runner's KubeletConfiguration lacks %s", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("runner's KubeletConfiguration has %s, which the kubelet's does not", p)
		}
	}
}

// jsonPaths lists the json field paths of t: a.b for nested structs, a[]
// through lists and maps; types that decode themselves are leaves.
func jsonPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) || strings.HasPrefix(t.PkgPath(), "k8s.io/api/") {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" || (!sf.IsExported() && !sf.Anonymous) {
			continue
		}
		if sf.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			out = append(out, jsonPaths(sf.Type, prefix)...)
			continue
		}
		p := prefix + name
		out = append(out, p)
		out = append(out, jsonPaths(sf.Type, p+".")...)
	}
	return out
}
