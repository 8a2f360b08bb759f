package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// decoder decodes a yaml.Node tree into a Go value strictly, the way the
// apiserver decodes JSON: fields by their json names, case-sensitively; an
// unknown or misspelt field, a duplicate key or a value of the wrong type is
// a problem with the line and the field path. It collects every problem and
// records the line of every field path it visits, so later validation
// errors can be placed too. One decoder serves one document; not safe for
// concurrent use.
type decoder struct {
	file     string
	prefix   string // field path prefix of the value being decoded, e.g. "items[2]"
	lines    map[string]int
	problems Problems

	// Aliases make a graph of the node tree: a few bytes can expand to
	// billions of values ("billion laughs") or refer to a value that
	// contains them. budget bounds the values one document decodes to,
	// active holds the anchored nodes being decoded (to find cycles).
	budget  int
	active  map[*yaml.Node]bool
	stopped bool
}

// aliasSlack is how many values aliases may add to a document beyond
// twice its own nodes: far more than any real manifest's reuse.
const aliasSlack = 100_000

// newDecoder returns a decoder for one document of file whose tree holds
// nodes nodes (aliases not followed).
func newDecoder(file string, nodes int) *decoder {
	return &decoder{file: file, lines: map[string]int{}, budget: 2*nodes + aliasSlack, active: map[*yaml.Node]bool{}}
}

// enter follows n if it is an alias and charges one value to the budget.
// It returns the node to decode, or false when decoding must stop here: the
// alias refers to a value that contains it, or the document has expanded
// past its budget (both reported once). A caller that gets true calls
// leave with the returned node when done with it.
func (d *decoder) enter(n *yaml.Node, path string) (*yaml.Node, bool) {
	if d.stopped {
		return nil, false
	}
	d.budget--
	if d.budget < 0 {
		d.stopped = true
		d.addf(n.Line, path, "aliases expand this document to too many values (more than twice its own size plus %d); is it a \"billion laughs\" file?", aliasSlack)
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.addf(n.Line, path, "alias *%s refers to no anchor", n.Value)
			return nil, false
		}
		if d.active[n.Alias] {
			d.addf(n.Line, path, "alias *%s refers to a value that contains it: a cycle", n.Value)
			return nil, false
		}
		n = n.Alias
	}
	if n.Anchor != "" {
		d.active[n] = true
	}
	return n, true
}

// leave ends what enter began for n.
func (d *decoder) leave(n *yaml.Node) {
	if n.Anchor != "" {
		delete(d.active, n)
	}
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// full reports whether the decoder lists no more problems.
func (d *decoder) full() bool { return len(d.problems) > maxProblems }

// addf records a problem. Past maxProblems (one more is kept, for Load to
// see there were more) it formats nothing.
func (d *decoder) addf(line int, path, format string, args ...any) {
	if d.full() {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: path, Message: fmt.Sprintf(format, args...)})
}

// decode fills v (addressable) from n; path is v's field path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n, ok := d.enter(n, path)
	if !ok {
		return
	}
	defer d.leave(n)
	if _, seen := d.lines[path]; !seen {
		d.lines[path] = n.Line
	}
	if isNull(n) {
		// JSON null leaves the field at its zero value, as the apiserver does.
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if v.Addr().Type().Implements(unmarshalerType) {
		d.decodeJSON(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			d.decodeBytes(n, v, path)
			return
		}
		d.decodeSlice(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			if n.Tag != "!!str" && n.Tag != "!!timestamp" && n.Tag != "!" {
				d.addf(n.Line, path, "must be a string, not %s %s: quote it (\"%s\")", tagName(n.Tag), n.Value, n.Value)
				return
			}
			if n.Style == 0 && n.Tag == "!!str" && yaml11NotString(n.Value) {
				d.addf(n.Line, path, "must be a string: %s is not one in YAML 1.1, which the kubelet reads, so the meaning depends on the reader: quote it (\"%s\")", n.Value, n.Value)
				return
			}
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "a boolean"); ok {
			if n.Tag != "!!bool" {
				if yaml11Bool(s) {
					d.addf(n.Line, path, "must be true or false: %s is a boolean only in YAML 1.1, and runner reads YAML 1.2, where it is a string; write true or false", s)
					return
				}
				d.addf(n.Line, path, "must be a boolean (true or false), not %s %q", tagName(n.Tag), s)
				return
			}
			v.SetBool(s == "true" || s == "True" || s == "TRUE")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, ok := d.scalar(n, path, "an integer"); ok {
			i, ok := integer(n)
			if !ok {
				d.addf(n.Line, path, "must be an integer, not %s %q", tagName(n.Tag), n.Value)
				return
			}
			if v.OverflowInt(i) {
				d.addf(n.Line, path, "%s is out of range: must fit in %d bits (%d to %d)", n.Value, v.Type().Bits(), -1<<(v.Type().Bits()-1), 1<<(v.Type().Bits()-1)-1)
				return
			}
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := d.scalar(n, path, "a non-negative integer"); ok {
			var u uint64
			if n.Tag != "!!int" || n.Decode(&u) != nil || v.OverflowUint(u) {
				d.addf(n.Line, path, "must be a non-negative integer that fits in %d bits, not %q", v.Type().Bits(), n.Value)
				return
			}
			v.SetUint(u)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := d.scalar(n, path, "a number"); ok {
			var f float64
			if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.addf(n.Line, path, "must be a number, not %q", n.Value)
				return
			}
			v.SetFloat(f)
		}
	case reflect.Interface:
		d.decodeJSON(n, v, path)
	default:
		d.addf(n.Line, path, "cannot decode into %s", v.Type())
	}
}

// integer reads an integer scalar, or a number with no fraction (80.0, 1e2),
// which the kubelet's YAML to JSON conversion turns into an integer too.
func integer(n *yaml.Node) (int64, bool) {
	var i int64
	switch n.Tag {
	case "!!int":
		return i, n.Decode(&i) == nil
	case "!!float":
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

// scalar checks that n is a scalar; what names the expected kind.
func (d *decoder) scalar(n *yaml.Node, path, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, path, "must be %s, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "must be an object (a mapping of fields), not %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]int{}
	for _, kv := range d.pairs(n, path) {
		k, val := kv.key, kv.value
		name := k.Value
		fpath := joinPath(path, name)
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, path, "field names must be strings, not %s", kindName(k))
			continue
		}
		if prev, dup := seen[name]; dup {
			d.addf(k.Line, fpath, "duplicate field (first at line %d)", prev)
			continue
		}
		seen[name] = k.Line
		idx, ok := fields.byName[name]
		if !ok {
			if !d.full() { // suggest is dear: skip it once nothing is listed
				d.addf(k.Line, fpath, "unknown field %q%s", name, fields.suggest(name))
			}
			continue
		}
		d.lines[fpath] = k.Line
		d.decode(val, v.FieldByIndex(idx), fpath)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "must be a mapping, not %s", kindName(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.addf(n.Line, path, "cannot decode a map keyed by %s", t.Key())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	seen := map[string]int{}
	for _, kv := range d.pairs(n, path) {
		k, val := kv.key, kv.value
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, path, "keys must be strings, not %s", kindName(k))
			continue
		}
		kpath := path + "[" + k.Value + "]"
		if k.Style == 0 && (k.Tag != "!!str" || yaml11NotString(k.Value)) && !canonicalInt(k.Value) {
			d.addf(k.Line, kpath, "keys must be strings, and %s is not one in YAML 1.1 (which the kubelet reads) or 1.2: quote it (\"%s\")", k.Value, k.Value)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.addf(k.Line, kpath, "duplicate key (first at line %d)", prev)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[kpath] = k.Line
		elem := reflect.New(t.Elem()).Elem()
		d.decode(val, elem, kpath)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, path, "must be a list, not %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

func (d *decoder) decodeBytes(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a base64 string")
	if !ok {
		return
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		d.addf(n.Line, path, "must be base64-encoded: %v", err)
		return
	}
	v.SetBytes(b)
}

// decodeJSON hands n, as JSON, to a type with its own UnmarshalJSON
// (resource.Quantity, intstr.IntOrString, metav1.Time), so those keep the
// apiserver's exact rules.
func (d *decoder) decodeJSON(n *yaml.Node, v reflect.Value, path string) {
	before := len(d.problems)
	value := d.jsonValue(n, path)
	if len(d.problems) > before {
		return // a cycle, a bad merge or the budget: already reported
	}
	data, err := json.Marshal(value)
	if err == nil {
		err = json.Unmarshal(data, v.Addr().Interface())
	}
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "json: ")
		d.addf(n.Line, path, "invalid value %s: %s", strings.TrimSpace(string(data)), msg)
	}
}

// jsonValue converts a node to the value encoding/json would have produced
// from the equivalent JSON document.
func (d *decoder) jsonValue(n *yaml.Node, path string) any {
	n, ok := d.enter(n, path)
	if !ok {
		return nil
	}
	defer d.leave(n)
	switch n.Kind {
	case yaml.MappingNode:
		pairs := d.pairs(n, path)
		m := make(map[string]any, len(pairs))
		for _, kv := range pairs {
			m[kv.key.Value] = d.jsonValue(kv.value, path)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.jsonValue(c, path)
		}
		return s
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return d.jsonValue(n.Content[0], path)
		}
		return nil
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		return b
	case "!!int", "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if json.Valid([]byte(n.Value)) {
				return json.Number(n.Value) // keep the literal: "0.1" stays 0.1
			}
			return f // 1_000, 0x10, +1: JSON has no such literals
		}
	}
	return n.Value
}

// keyValue is one entry of a mapping.
type keyValue struct{ key, value *yaml.Node }

// pairs is the entries of mapping n with YAML merge keys ("<<: *defaults")
// expanded, as the kubelet's YAML reader expands them: a key written in n
// wins over a merged one and, of several merged mappings, the earlier wins.
// Merged entries keep the lines of their anchor. Duplicate keys written in
// n are all returned, for the caller to report.
func (d *decoder) pairs(n *yaml.Node, path string) []keyValue {
	own := make([]keyValue, 0, len(n.Content)/2)
	var merged []keyValue
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(v, path)...)
			continue
		}
		own = append(own, keyValue{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	have := make(map[string]bool, len(own))
	for _, kv := range own {
		have[kv.key.Value] = true
	}
	for _, kv := range merged {
		if kv.key.Kind == yaml.ScalarNode && have[kv.key.Value] {
			continue
		}
		have[kv.key.Value] = true
		own = append(own, kv)
	}
	return own
}

// mergeSources is the entries a merge key's value v brings: those of a
// mapping, or of each mapping of a list, in order.
func (d *decoder) mergeSources(v *yaml.Node, path string) []keyValue {
	if deref(v).Kind != yaml.SequenceNode {
		return d.mergeMapping(v, path)
	}
	v, ok := d.enter(v, path)
	if !ok {
		return nil
	}
	defer d.leave(v)
	var out []keyValue
	for _, m := range v.Content {
		out = append(out, d.mergeMapping(m, path)...)
	}
	return out
}

// mergeMapping is the entries of m, a mapping named by a merge key.
func (d *decoder) mergeMapping(m *yaml.Node, path string) []keyValue {
	m, ok := d.enter(m, path)
	if !ok {
		return nil
	}
	defer d.leave(m)
	if m.Kind != yaml.MappingNode {
		d.addf(m.Line, path, "a merge key (<<) takes a mapping or a list of mappings, not %s", kindName(m))
		return nil
	}
	return d.pairs(m, path)
}

// deref is the node an alias refers to, or n itself.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return tagName(n.Tag) + " " + strconv.Quote(n.Value)
	}
	return "something else"
}

func tagName(tag string) string {
	switch tag {
	case "!!str":
		return "the string"
	case "!!int":
		return "the integer"
	case "!!float":
		return "the number"
	case "!!bool":
		return "the boolean"
	case "!!null":
		return "null"
	}
	return "the value"
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// structFields maps the json names of a struct's fields (inlined embedded
// structs included) to their index paths.
type structFields struct {
	byName map[string][]int
	names  []string
}

var fieldCache = map[reflect.Type]*structFields{}

// fieldsOf is called only from decoding, which happens on one goroutine per
// decoder; the cache is guarded by fieldMu.
func fieldsOf(t reflect.Type) *structFields {
	fieldMu.Lock()
	defer fieldMu.Unlock()
	if f, ok := fieldCache[t]; ok {
		return f
	}
	f := &structFields{byName: map[string][]int{}}
	collectFields(t, nil, f)
	sort.Strings(f.names)
	fieldCache[t] = f
	return f
}

func collectFields(t reflect.Type, index []int, f *structFields) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int(nil), index...), i)
		if sf.Anonymous && (name == "" || strings.Contains(opts, "inline")) && sf.Type.Kind() == reflect.Struct {
			collectFields(sf.Type, idx, f)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.byName[name] = idx
		f.names = append(f.names, name)
	}
}

// suggest names the known field closest to a misspelt one, if any is close.
func (f *structFields) suggest(name string) string {
	best, bestDist := "", 4
	for _, cand := range f.names {
		if strings.EqualFold(cand, name) {
			return fmt.Sprintf(": did you mean %q? (field names are case-sensitive)", cand)
		}
		if abs(len(cand)-len(name)) >= bestDist {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(strings.ToLower(cand), strings.ToLower(name)); d < bestDist {
			best, bestDist = cand, d
		}
	}
	if best != "" && bestDist <= len(name)/3+1 {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return fmt.Sprintf(": allowed here: %s", strings.Join(f.names, ", "))
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var fieldMu sync.Mutex
