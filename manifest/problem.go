package manifest

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a manifest. Every problem names the file,
// the line (0 when unknown), the field path in the apiserver's notation
// ("spec.containers[0].image", empty for the whole document) and what is
// wrong and allowed.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as "file:line: field: message", the form
// compilers use, so editors can jump to it.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one or more files. It is an error so
// callers can return it; Error joins the problems one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
