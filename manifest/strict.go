package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes data, one YAML or JSON document read from file, into
// v (a pointer to a struct with json tags) by the rules manifests are
// decoded by: fields by their json names, case-sensitively; an unknown or
// misspelt field, a duplicate key, a value of the wrong type or a scalar
// YAML 1.1 reads otherwise is a problem with its line and field path. The
// size bounds of manifests hold. It returns the line of every field path
// the document sets ("a.b", "m[key]", "l[0]") and every problem; v is
// filled only as far as it could be. For files that are not manifests,
// such as the KubeletConfiguration of --config. Pure; safe for concurrent
// use with different v.
func DecodeStrict(file string, data []byte, v any) (map[string]int, Problems) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("manifest.DecodeStrict: v must point to a struct, not %T", v))
	}
	if len(data) > MaxFileSize {
		return nil, Problems{{File: file, Message: fmt.Sprintf("file is %d bytes; at most %d bytes (10 MiB) are read", len(data), MaxFileSize)}}
	}
	docs := splitDocuments(data)
	if p, ok := checkBounds(file, data, docs); !ok {
		return nil, Problems{p}
	}
	if p, ok := checkJSON(file, data, docs); !ok {
		return nil, Problems{p}
	}
	var roots []*yaml.Node
	var nodes int
	for _, doc := range docs {
		root, n, p := parseDocument(file, doc)
		if p != nil {
			return nil, Problems{*p}
		}
		if root != nil {
			roots = append(roots, root)
			nodes += n
		}
	}
	switch {
	case len(roots) == 0:
		return nil, Problems{{File: file, Line: 1, Message: "the file holds no document"}}
	case len(roots) > 1:
		return nil, Problems{{File: file, Line: roots[1].Line, Message: "a second document starts here; this file holds one"}}
	}
	top := roots[0]
	if top.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: top.Line, Message: fmt.Sprintf("the document must be a mapping of fields, not %s", kindName(top))}}
	}
	dec := newDecoder(file, nodes)
	dec.decode(top, rv.Elem(), "")
	problems := dec.problems
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], Problem{File: file, Line: problems[maxProblems].Line,
			Message: fmt.Sprintf("more than %d problems; fix these first", maxProblems)})
	}
	return dec.lines, problems
}

// parseDocument parses one document of file (of those splitDocuments
// found) into its top node, nil for an empty document, with the file's line
// numbers, and counts its nodes. Load and DecodeStrict call it.
func parseDocument(file string, doc document) (*yaml.Node, int, *Problem) {
	var root yaml.Node
	parser := yaml.NewDecoder(bytes.NewReader(doc.data))
	if err := parser.Decode(&root); errors.Is(err, io.EOF) {
		return nil, 0, nil
	} else if err != nil {
		p := yamlProblem(file, doc.line, err)
		return nil, 0, &p
	}
	var extra yaml.Node
	if err := parser.Decode(&extra); err == nil {
		return nil, 0, &Problem{File: file, Line: doc.line - 1 + extra.Line, Message: "a second YAML document starts here; put each document after a --- line of its own"}
	} else if !errors.Is(err, io.EOF) {
		p := yamlProblem(file, doc.line, err)
		return nil, 0, &p
	}
	nodes := shiftLines(&root, doc.line-1)
	if len(root.Content) == 0 {
		return nil, 0, nil
	}
	return root.Content[0], nodes, nil
}
