package kubeletconfig

import (
	"fmt"

	"github.com/runner-dev/runner/manifest"
)

// The type a file must declare.
const (
	APIVersion = "kubelet.config.k8s.io/v1beta1"
	Kind       = "KubeletConfiguration"
)

// File is a decoded KubeletConfiguration file.
type File struct {
	// Path names the file in messages.
	Path   string
	Config Configuration
	// Lines holds the line of every field path the file sets
	// ("staticPodPath", "evictionHard[memory.available]",
	// "crashLoopBackOff.maxContainerRestartPeriod").
	Lines map[string]int
}

// set reports whether the file sets field (a path as in Lines).
func (f *File) set(field string) bool {
	_, ok := f.Lines[field]
	return ok
}

// Load reads and decodes the file at path. Every problem (unreadable,
// invalid YAML, unknown field, wrong type, wrong apiVersion or kind) is in
// the returned manifest.Problems, one file:line each.
func Load(path string) (*File, error) {
	data, err := manifest.ReadFile(path)
	if err != nil {
		return nil, manifest.Problems{{File: path, Message: err.Error()}}
	}
	f, problems := Parse(path, data)
	if len(problems) > 0 {
		return nil, problems
	}
	return f, nil
}

// Parse decodes data, read from path, strictly. Pure.
func Parse(path string, data []byte) (*File, manifest.Problems) {
	f := &File{Path: path}
	lines, problems := manifest.DecodeStrict(path, data, &f.Config)
	f.Lines = lines
	if problems != nil {
		return nil, problems
	}
	if v := f.Config.APIVersion; v != APIVersion {
		problems = append(problems, manifest.Problem{File: path, Line: lineOr(lines, "apiVersion", 1), Field: "apiVersion",
			Message: fmt.Sprintf("%s: must be %q", quoteOrRequired(v), APIVersion)})
	}
	if k := f.Config.Kind; k != Kind {
		problems = append(problems, manifest.Problem{File: path, Line: lineOr(lines, "kind", 1), Field: "kind",
			Message: fmt.Sprintf("%s: must be %q", quoteOrRequired(k), Kind)})
	}
	if problems != nil {
		return nil, problems
	}
	return f, nil
}

func quoteOrRequired(v string) string {
	if v == "" {
		return "Required value"
	}
	return fmt.Sprintf("Unsupported value %q", v)
}

func lineOr(lines map[string]int, field string, def int) int {
	if l, ok := lines[field]; ok {
		return l
	}
	return def
}
