package manifest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// parsedNodes is how many nodes yaml.v3 makes of one document (0 when it
// does not parse).
func parsedNodes(data []byte) int {
	var root yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&root) != nil {
		return 0
	}
	return shiftLines(&root, 0)
}

// checkNodeBound fails t when a document of data parses to more nodes than
// nodeBound says it can.
func checkNodeBound(t testing.TB, name string, data []byte) {
	t.Helper()
	for _, doc := range splitDocuments(data) {
		if nodes, bound := parsedNodes(doc.data), nodeBound(doc.data); nodes > bound {
			t.Errorf("%s: document at line %d parses to %d nodes, above its bound %d:\n%q", name, doc.line, nodes, bound, doc.data)
		}
	}
}

// TestNodeBoundCoversNodes: the bound counted before parsing is never below
// the nodes yaml.v3 makes, for the fixtures, the corpus and YAML written to
// make many nodes of few indicators. FuzzLoad checks it on every input.
func TestNodeBoundCoversNodes(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		for _, f := range fixtures(t, dir) {
			checkNodeBound(t, f, readFixture(t, f))
		}
	}
	if files, err := corpusFiles(); err == nil {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkNodeBound(t, f, data)
		}
	}
	for _, s := range []string{
		"a", "[]", "{}", "[a]", "{a}", "{a, b, c}", "[a, b, c]", "[a: b, c: d]", "{? a, b: c}", "? a\n? b\n: c\n",
		"- - - a", "-\n-\n-", "- \n- \n", "a:\nb:\nc:", "a: {b: [c, {d: e}]}", "[[[[[]]]]]", "{{{{}}}}: x",
		"[*a, &a b, *a]", "a: &x 1\nb: *x\n", "!!map {a: b}", "- !!str a\n- !!int 1", "\"a\": {\"b\": [1,2,3]}",
		"a: |\n  x\n  y\nb: >\n  z\n", "[a,\n b,\n c]", "a:\tb", "-\ta", "?\ta", "-\r\n-\r\n", "-\u0085-\u0085",
		"key: \u2028- a", "- a\u2029- b", "{a: [b, {c: d}], e: f, g}", "[, a]", "{, a}", "a: [\n]\n", "<<: {a: b}",
	} {
		checkNodeBound(t, fmt.Sprintf("%q", s), []byte(s))
	}
}

// allocatedBy is the bytes Load allocates for data (measured, not timed).
func allocatedBy(data []byte) (uint64, Problems) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, problems := Load("f.yaml", data, goldenOptions)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, problems
}

// fill repeats unit between head and tail until the whole is about size
// bytes.
func fill(head, unit, tail string, size int) []byte {
	n := max((size-len(head)-len(tail))/len(unit), 1)
	return []byte(head + strings.Repeat(unit, n) + tail)
}

const argsHead = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'b:1', args: ["

// TestDecodeMemoryBounded: no input costs more to load than a small multiple
// of its size, and none more than the ceiling. The inputs are what costs
// most per byte: flow lists of one-byte scalars (5 million of them cost
// 2.3 GB before the bound), block lists and mappings, nesting, and lists
// that sit just within the budget, so they are decoded in full. Memory is
// measured as bytes allocated (runtime.MemStats), never as time.
func TestDecodeMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: allocates up to 100 MB per case")
	}
	const mib = 1 << 20
	cases := []struct {
		name    string
		data    []byte
		refused bool // refused before parsing
	}{
		{"flow list of 5 million scalars (the issue's)", fill(argsHead, "1,", "1]}]}\n", MaxFileSize), true},
		{"flow list of empty lists", fill(argsHead, "[],", "[]]}]}\n", MaxFileSize), true},
		{"nested flow lists", fill("a: ", "[", "", MaxFileSize), true},
		{"block list", fill("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: b:1\n    args:\n", "    - 1\n", "", MaxFileSize), true},
		{"block mapping of labels", fill("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n", "    abcd: 1\n", "", MaxFileSize), true},
		{"JSON list", fill(`{"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"args": [`, `"1",`, `"1"]}]}}`, MaxFileSize), true},
		// At the budget: bound one per 8 bytes.
		{"args within the budget, 64 KiB", fill(argsHead, "'abcdef',", "'1']}]}\n", 64<<10), false},
		{"args within the budget, 1 MiB", fill(argsHead, "'abcdefghijklmno',", "'1']}]}\n", mib), false},
		{"args within the ceiling, 10 MiB", fill(argsHead, "'"+strings.Repeat("x", 80)+"',", "'1']}]}\n", MaxFileSize), false},
		{"labels within the budget, 1 MiB", fill("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n", "    a123456789abcd: x\n", "", mib), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allocated, problems := allocatedBy(c.data)
			if len(problems) == 0 && c.refused {
				t.Fatal("accepted")
			}
			refused := len(problems) == 1 && strings.Contains(problems[0].Message, "so that decoding takes bounded memory")
			if refused != c.refused {
				t.Errorf("refused before decoding: %v, want %v; problems: %.300v", refused, c.refused, problems.Error())
			}
			size := uint64(len(c.data))
			t.Logf("%d bytes: allocated %d bytes (%.1f times the file)", size, allocated, float64(allocated)/float64(size))
			if limit := 64*size + 8*mib; allocated > limit {
				t.Errorf("allocated %d bytes for a file of %d, more than 64 times its size plus 8 MiB (%d)", allocated, size, limit)
			}
			if allocated > 128*mib {
				t.Errorf("allocated %d bytes, more than the 128 MiB any file may cost", allocated)
			}
		})
	}
}

// TestPodsPerFile: a file holds at most MaxPodsPerFile pods, counted over
// its documents and list items; the problem is placed at the first pod too
// many and says what to do, and a list too long is refused before its
// items are decoded.
func TestPodsPerFile(t *testing.T) {
	pod := func(i int) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec: {containers: [{name: c, image: 'b:1'}]}\n", i)
	}
	list := func(from, n int) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
		for i := range n {
			fmt.Fprintf(&b, "- {metadata: {name: p%d}, spec: {containers: [{name: c, image: 'b:1'}]}}\n", from+i)
		}
		return b.String()
	}
	docs := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = pod(i)
		}
		return strings.Join(parts, "---\n")
	}
	cases := []struct {
		name string
		data string
		pods int
		line int
	}{
		{"documents at the limit", docs(MaxPodsPerFile), MaxPodsPerFile, 0},
		{"one document too many", docs(MaxPodsPerFile + 1), 0, 5*MaxPodsPerFile + 1},
		{"list at the limit", list(0, MaxPodsPerFile), MaxPodsPerFile, 0},
		{"list one item too long", list(0, MaxPodsPerFile+1), 0, 4 + MaxPodsPerFile},
		{"documents and a list", docs(200) + "---\n" + list(200, 60), 0, 5*200 + 4 + 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pods, problems := Load("f.yaml", []byte(c.data), goldenOptions)
			if len(pods) != c.pods {
				t.Fatalf("%d pods, want %d; problems:\n%v", len(pods), c.pods, problems)
			}
			if c.line == 0 {
				return
			}
			if len(problems) != 1 || problems[0].Line != c.line || !strings.Contains(problems[0].Message, "at most 250 pods") ||
				!strings.Contains(problems[0].Message, "split") {
				t.Errorf("problems %v, want one at line %d that says at most 250 pods and to split them", problems, c.line)
			}
		})
	}
}
