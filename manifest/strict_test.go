package manifest

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// strictTarget is a small configuration type for DecodeStrict.
type strictTarget struct {
	metav1.TypeMeta `json:",inline"`
	Path            string            `json:"path,omitempty"`
	Every           metav1.Duration   `json:"every,omitempty"`
	Max             *int32            `json:"max,omitempty"`
	On              bool              `json:"on,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Nested          struct {
		Mode string `json:"mode,omitempty"`
	} `json:"nested"`
}

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []string // problems, "line: field: message" substrings
		check      func(t *testing.T, v strictTarget, lines map[string]int)
	}{
		{name: "good", data: "kind: K\npath: /x\nevery: 20s\nmax: 3\non: true\nlabels: {a: b}\nnested:\n  mode: m\n",
			check: func(t *testing.T, v strictTarget, lines map[string]int) {
				if v.Kind != "K" || v.Path != "/x" || v.Every.Duration != 20*time.Second || v.Max == nil || *v.Max != 3 || !v.On || v.Labels["a"] != "b" || v.Nested.Mode != "m" {
					t.Errorf("decoded %+v", v)
				}
				for path, line := range map[string]int{"kind": 1, "path": 2, "every": 3, "labels[a]": 6, "nested.mode": 8} {
					if lines[path] != line {
						t.Errorf("line of %s = %d, want %d (%v)", path, lines[path], line, lines)
					}
				}
			}},
		{name: "json", data: `{"path": "/y", "max": 1}`, check: func(t *testing.T, v strictTarget, _ map[string]int) {
			if v.Path != "/y" || *v.Max != 1 {
				t.Errorf("decoded %+v", v)
			}
		}},
		{name: "misspelt", data: "path: /x\nevry: 1s\n", want: []string{`2: evry: unknown field "evry": did you mean "every"?`}},
		{name: "nested unknown", data: "nested:\n  mod: m\n", want: []string{`2: nested.mod: unknown field "mod"`}},
		{name: "wrong type", data: "max: many\n", want: []string{`1: max: must be an integer`}},
		{name: "bad duration", data: "every: soon\n", want: []string{`1: every: invalid value "soon"`}},
		{name: "yaml 1.1 boolean", data: "on: yes\n", want: []string{"1: on: must be true or false"}},
		{name: "duplicate", data: "path: /a\npath: /b\n", want: []string{"2: path: duplicate field (first at line 1)"}},
		{name: "two documents", data: "path: /a\n---\npath: /b\n", want: []string{"3: a second document"}},
		{name: "empty", data: "# nothing\n", want: []string{"holds no document"}},
		{name: "not a mapping", data: "- a\n", want: []string{"1: the document must be a mapping"}},
		{name: "syntax", data: "path: [\n", want: []string{"invalid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v strictTarget
			lines, problems := DecodeStrict("c.yaml", []byte(tc.data), &v)
			if len(problems) != len(tc.want) {
				t.Fatalf("problems %v, want %d like %q", problems, len(tc.want), tc.want)
			}
			for i, p := range problems {
				if s := p.String(); !strings.HasPrefix(s, "c.yaml:") || !strings.Contains(s, tc.want[i]) {
					t.Errorf("problem %q, want it to hold %q", s, tc.want[i])
				}
			}
			if tc.check != nil {
				tc.check(t, v, lines)
			}
		})
	}
}
