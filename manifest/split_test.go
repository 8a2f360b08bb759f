package manifest

import (
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	type doc struct {
		line int
		data string
	}
	cases := []struct {
		name string
		in   string
		want []doc
	}{
		{"empty", "", nil},
		{"blank and comments", "\n# a\n  # b\n\n", nil},
		{"one document", "a: 1\nb: 2\n", []doc{{1, "a: 1\nb: 2\n"}}},
		{"no final newline", "a: 1", []doc{{1, "a: 1"}}},
		{"leading marker", "---\na: 1\n", []doc{{2, "a: 1\n"}}},
		{"trailing marker", "a: 1\n---\n", []doc{{1, "a: 1\n"}}},
		{"trailing marker, no newline", "a: 1\n---", []doc{{1, "a: 1\n"}}},
		{"two documents", "a: 1\n---\nb: 2\n", []doc{{1, "a: 1\n"}, {3, "b: 2\n"}}},
		{"empty documents between", "---\n---\n\n---\na: 1\n---\n# c\n---\n", []doc{{5, "a: 1\n"}}},
		{"marker with trailing blanks is bare", "a: 1\n---  \t\nb: 2\n", []doc{{1, "a: 1\n"}, {3, "b: 2\n"}}},
		{"marker with content keeps its line", "a: 1\n--- {b: 2}\n", []doc{{1, "a: 1\n"}, {2, "--- {b: 2}\n"}}},
		{"marker with a comment keeps its line", "--- # x\nb: 2\n", []doc{{1, "--- # x\nb: 2\n"}}},
		{"marker with a tag", "--- !!map\nb: 2\n", []doc{{1, "--- !!map\nb: 2\n"}}},
		{"tab after the marker", "---\t{b: 2}\n", []doc{{1, "---\t{b: 2}\n"}}},
		{"document end marker", "a: 1\n...\n# after\nb: 2\n", []doc{{1, "a: 1\n"}, {3, "# after\nb: 2\n"}}},
		{"not markers", "a: ---\n----\n---x\n ---\n", []doc{{1, "a: ---\n----\n---x\n ---\n"}}},
		{"CRLF", "a: 1\r\n---\r\nb: 2\r\n", []doc{{1, "a: 1\r\n"}, {3, "b: 2\r\n"}}},
		{"directives stay with their document", "%YAML 1.2\n---\na: 1\n", []doc{{1, "%YAML 1.2\n---\na: 1\n"}}},
		{"a comment on a marker alone is no document", "a: 1\n--- # end\n", []doc{{1, "a: 1\n"}}},
		{"directives of a later document", "a: 1\n---\n%TAG ! tag:x,1:\n---\nb: 2\n", []doc{{1, "a: 1\n"}, {3, "%TAG ! tag:x,1:\n---\nb: 2\n"}}},
		{"a directive alone is a document (and an error)", "%\n", []doc{{1, "%\n"}}},
		{"lone CR ends lines", "a: 1\r---\rb: 2\r", []doc{{1, "a: 1\r"}, {3, "b: 2\r"}}},
		{"NEL, LS and PS end lines", "a: 1\u0085---\u2028b: 2\u2029---\nc: 3", []doc{{1, "a: 1\u0085"}, {3, "b: 2\u2029"}, {5, "c: 3"}}},
		{"a comment line ended by CR hides no content", "# c\ra: 1\n", []doc{{1, "# c\ra: 1\n"}}},
		{"an indented % is content, not a directive", "  %x\n", []doc{{1, "  %x\n"}}},
		{"an indented marker is content", "a:\n  ---\n", []doc{{1, "a:\n  ---\n"}}},
		{"block scalar ends at a marker", "s: |\n  text\n---\nb: 2\n", []doc{{1, "s: |\n  text\n"}, {4, "b: 2\n"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []doc
			for _, d := range splitDocuments([]byte(c.in)) {
				got = append(got, doc{d.line, string(d.data)})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("split %q:\n got  %+v\n want %+v", c.in, got, c.want)
			}
		})
	}
}

// TestSplitKeepsBytes: the documents are sub-slices of the input (no copy)
// and, with the bare markers and blank documents, make up all of it.
func TestSplitKeepsBytes(t *testing.T) {
	in := []byte("a: 1\n---\nb: 2\n--- {c: 3}\n...\n")
	docs := splitDocuments(in)
	if len(docs) != 3 {
		t.Fatalf("%d documents", len(docs))
	}
	if &docs[0].data[0] != &in[0] {
		t.Error("the first document is a copy")
	}
	var joined strings.Builder
	for _, d := range docs {
		joined.Write(d.data)
	}
	if joined.String() != "a: 1\nb: 2\n--- {c: 3}\n" {
		t.Errorf("documents hold %q", joined.String())
	}
}

// TestLoadLinearInDocuments guards against loading work that grows with
// the square of the documents (each document parsed with the lines before
// it, or a list's bytes copied and hashed once per item). It measures the
// bytes allocated, not time, so a busy machine cannot fail it: 20 times the
// input must allocate far less than 400 times as much.
func TestLoadLinearInDocuments(t *testing.T) {
	docs := func(n int) []byte { return []byte(strings.Repeat("{}\n---\n", n)) }
	items := func(n int) []byte {
		return []byte(`{"apiVersion": "v1", "kind": "List", "items": [` + strings.Repeat(`{"metadata": {"name": "n"}, "spec": {}},`, n) + "{}]}")
	}
	for name, gen := range map[string]func(int) []byte{"documents": docs, "list items": items} {
		t.Run(name, func(t *testing.T) {
			// Within MaxPodsPerFile, so that every document and item is decoded.
			small, large := gen(12), gen(240)
			allocated := func(data []byte) uint64 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if _, problems := Load("f.yaml", data, goldenOptions); len(problems) == 0 {
					t.Fatal("no problems")
				}
				runtime.ReadMemStats(&after)
				return after.TotalAlloc - before.TotalAlloc
			}
			s, l := allocated(small), allocated(large)
			// Linear is 20x; quadratic would be 400x.
			if l > 40*s {
				t.Errorf("%s: 12 allocated %d bytes, 240 allocated %d: not linear", name, s, l)
			}
			if testing.Verbose() {
				t.Logf("ratio %.1f", float64(l)/float64(s))
			}
		})
	}
}
