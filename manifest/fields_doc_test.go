package manifest

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fieldRow is one row of FIELDS.md: a field of a type and what runner does
// with it.
type fieldRow struct {
	status string // works, lead, no effect, refused
}

var (
	typeHeading = regexp.MustCompile("^## ([A-Za-z]+)")
	fieldLine   = regexp.MustCompile("^\\| `([A-Za-z]+)` \\| ([a-z ]+?) \\|")
)

// readFieldsDoc parses FIELDS.md into type → field → row.
func readFieldsDoc(t *testing.T) map[string]map[string]fieldRow {
	data, err := os.ReadFile("FIELDS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]map[string]fieldRow{}
	typ := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := typeHeading.FindStringSubmatch(line); m != nil {
			typ = m[1]
			doc[typ] = map[string]fieldRow{}
			continue
		}
		if m := fieldLine.FindStringSubmatch(line); m != nil && typ != "" {
			switch m[2] {
			case "works", "lead", "no effect", "refused":
			default:
				t.Errorf("FIELDS.md %s.%s: status %q is none of works, lead, no effect, refused", typ, m[1], m[2])
			}
			doc[typ][m[1]] = fieldRow{status: m[2]}
		}
	}
	return doc
}

// leafTypes are decoded as values, not as structs of fields.
var leafTypes = map[reflect.Type]bool{
	reflect.TypeFor[resource.Quantity]():  true,
	reflect.TypeFor[intstr.IntOrString](): true,
	reflect.TypeFor[metav1.Time]():        true,
}

// TestFieldsDocCoversThePod: FIELDS.md says, for every field a Pod manifest
// may hold (every struct reachable from v1.Pod through fields that are not
// refused as a whole), what runner does with it. A field added to
// k8s.io/api fails this test until it is decided.
func TestFieldsDocCoversThePod(t *testing.T) {
	doc := readFieldsDoc(t)
	seen := map[reflect.Type]bool{}
	var missing []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || leafTypes[typ] || seen[typ] {
			return
		}
		seen[typ] = true
		rows, documented := doc[typ.Name()]
		for _, f := range jsonFields(typ) {
			row, ok := rows[f.name]
			if !documented || !ok {
				missing = append(missing, typ.Name()+"."+f.name)
				continue
			}
			if row.status != "refused" {
				walk(f.typ)
			}
		}
	}
	walk(reflect.TypeFor[v1.Pod]())
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("FIELDS.md does not say what runner does with %s", m)
	}
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists a struct's fields by their JSON names, embedded structs
// inlined; TypeMeta's kind and apiVersion and the status are left out.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			if f.Type != reflect.TypeFor[metav1.TypeMeta]() {
				out = append(out, jsonFields(f.Type)...)
			}
			continue
		}
		if name == "status" && t == reflect.TypeFor[v1.Pod]() {
			continue
		}
		out = append(out, jsonField{name, f.Type})
	}
	return out
}
