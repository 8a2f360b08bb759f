package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
	v1 "k8s.io/api/core/v1"
)

// MaxFileSize is the largest manifest file runner reads.
const MaxFileSize = 10 << 20

// maxProblems is the most problems one file lists. Past it a reader fixes
// the first ones and tries again; and a file of short bad lines must not
// cost a hundred times its size in messages.
const maxProblems = 100

// Options say how to identify the pods of a file.
type Options struct {
	// NodeName is appended to every pod name: <name>-<node>.
	NodeName string
	// Source is SourceFile or SourceHTTP.
	Source string
	// Now stamps kubernetes.io/config.seen; nil means time.Now.
	Now func() time.Time
}

// Load parses, defaults, identifies and validates the pods in data, which was
// read from file (a path or URL, used in problems and in the UID). It returns
// either all the file's pods or, when anything is wrong, no pod and every
// problem found. A file with no documents yields no pods and no problems.
// Pure and safe for concurrent use.
func Load(file string, data []byte, opts Options) ([]*v1.Pod, Problems) {
	if len(data) > MaxFileSize {
		return nil, Problems{{File: file, Message: fmt.Sprintf("file is %d bytes; manifests may be at most %d bytes (10 MiB)", len(data), MaxFileSize)}}
	}
	var (
		pods     []*v1.Pod
		problems Problems
		names    = map[string]int{} // namespace/name → line
	)
	docs := splitDocuments(data)
	if p, ok := checkBounds(file, data, docs); !ok {
		return nil, Problems{p}
	}
	if p, ok := checkJSON(file, data, docs); !ok {
		return nil, Problems{p}
	}
	stoppedAt := 0 // the line of the first document not checked
	podsLeft := MaxPodsPerFile
	for _, doc := range docs {
		if len(problems) >= maxProblems {
			stoppedAt = doc.line
			break
		}
		got, probs := loadDocument(file, doc, opts, &podsLeft)
		problems = append(problems, probs...)
		for _, p := range got {
			key := p.pod.Namespace + "/" + p.pod.Name
			if prev, dup := names[key]; dup {
				problems = append(problems, Problem{File: file, Line: p.line, Field: joinPath(p.prefix, "metadata.name"),
					Message: fmt.Sprintf("pod %s is defined twice in this file (first at line %d)", key, prev)})
				continue
			}
			names[key] = p.line
			pods = append(pods, p.pod)
		}
	}
	if len(problems) > 0 {
		// In the order of the file, as a compiler lists errors; validation
		// finds them in the order of its checks.
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		if len(problems) > maxProblems || stoppedAt > 0 {
			line := stoppedAt
			if len(problems) > maxProblems {
				line = problems[maxProblems].Line
			}
			problems = append(problems[:min(len(problems), maxProblems)], Problem{File: file, Line: line,
				Message: fmt.Sprintf("more than %d problems; fix these first (from here on, the file was not fully checked)", maxProblems)})
		}
		return nil, problems
	}
	return pods, nil
}

// LoadFile reads path (at most MaxFileSize bytes) and Loads it.
func LoadFile(path string, opts Options) ([]*v1.Pod, Problems) {
	data, err := readCapped(path)
	if err != nil {
		return nil, Problems{{File: path, Message: err.Error()}}
	}
	return Load(path, data, opts)
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", errors.Unwrap(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes (10 MiB), the most a manifest may be", MaxFileSize)
	}
	return data, nil
}

// checkBounds refuses, before anything is parsed, a file whose documents
// could parse to more YAML nodes than its size allows, or that has more
// documents than a file may hold pods. The problem says what is allowed.
func checkBounds(file string, data []byte, docs []document) (Problem, bool) {
	if len(docs) > MaxPodsPerFile {
		return Problem{File: file, Line: docs[MaxPodsPerFile].line, Message: fmt.Sprintf(
			"the file has %d documents; a file may hold at most %d pods: split it into several files", len(docs), MaxPodsPerFile)}, false
	}
	bound, budget := 0, nodeBudget(len(data))
	for _, doc := range docs {
		bound += nodeBound(doc.data)
		if bound > budget {
			return Problem{File: file, Line: doc.line, Message: fmt.Sprintf(
				"the file may hold more than %d YAML values, the most runner decodes in a file of %d bytes (one per 8 bytes plus %d, and never more than %d, "+
					"so that decoding takes bounded memory); a manifest holds far fewer: is this a manifest? Put long lists of values in a file mounted with a hostPath volume, or split the pods into several files",
				budget, len(data), minNodeBudget, maxNodesPerFile)}, false
		}
	}
	return Problem{}, true
}

// loadedPod is a pod of a document with the line it starts at and its
// field path prefix ("items[2]" in lists).
type loadedPod struct {
	pod    *v1.Pod
	line   int
	prefix string
}

// loadDocument decodes one document: a Pod, a PodList or a List of Pods.
// podsLeft is how many more pods the file may hold; the document's pods are
// taken from it, and a document that holds more is refused before its
// items are decoded.
func loadDocument(file string, doc document, opts Options, podsLeft *int) ([]loadedPod, Problems) {
	top, nodes, p := parseDocument(file, doc)
	if p != nil {
		return nil, Problems{*p}
	}
	if top == nil {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: top.Line, Message: fmt.Sprintf("a manifest document must be a mapping (a Pod, PodList or List), not %s", kindName(top))}}
	}
	apiVersion, kind, kindLine := typeOf(top)
	dec := newDecoder(file, nodes)
	var problems Problems
	if apiVersion == "" {
		problems = append(problems, Problem{File: file, Line: top.Line, Field: "apiVersion", Message: `Required value: must be "v1"`})
	} else if apiVersion != "v1" {
		problems = append(problems, Problem{File: file, Line: dec.lineOfKey(top, "apiVersion"), Field: "apiVersion", Message: fmt.Sprintf(`Unsupported value: %q: supported values: "v1"`, apiVersion)})
	}

	var raws []rawPod
	switch kind {
	case "Pod":
		if *podsLeft < 1 {
			problems = append(problems, tooManyPods(file, top.Line, "", *podsLeft, 1))
			break
		}
		*podsLeft--
		pod := &v1.Pod{}
		dec.decode(top, reflect.ValueOf(pod).Elem(), "")
		raws = append(raws, rawPod{pod: pod, line: top.Line, hashed: doc.hashed()})
	case "PodList", "List":
		items := itemNodes(top)
		if len(items) > *podsLeft {
			problems = append(problems, tooManyPods(file, items[max(*podsLeft, 0)].Line, "items", *podsLeft, len(items)))
			break
		}
		*podsLeft -= len(items)
		list := &v1.PodList{}
		dec.decode(top, reflect.ValueOf(list).Elem(), "")
		// Each item's UID hashes the item alone (its node, re-encoded by
		// yaml.v3, which is frozen), so editing one item of a list leaves the
		// other pods of the list running.
		for i := range list.Items {
			if len(problems) > maxProblems {
				break
			}
			prefix := "items[" + strconv.Itoa(i) + "]"
			item := &list.Items[i]
			if item.Kind != "" && item.Kind != "Pod" {
				problems = append(problems, Problem{File: file, Line: dec.line(prefix, "kind"), Field: prefix + ".kind", Message: fmt.Sprintf(`Unsupported value: %q: a %s may hold only Pods`, item.Kind, kind)})
			}
			if item.APIVersion != "" && item.APIVersion != "v1" {
				problems = append(problems, Problem{File: file, Line: dec.line(prefix, "apiVersion"), Field: prefix + ".apiVersion", Message: fmt.Sprintf(`Unsupported value: %q: supported values: "v1"`, item.APIVersion)})
			}
			hashed, _ := yaml.Marshal(items[i])
			hashed = append([]byte("#list item\n"), hashed...)
			raws = append(raws, rawPod{pod: item, line: items[i].Line, prefix: prefix, hashed: hashed})
		}
	case "":
		problems = append(problems, Problem{File: file, Line: top.Line, Field: "kind", Message: `Required value: must be "Pod", "PodList" or "List"`})
		dec.decode(top, reflect.ValueOf(&v1.Pod{}).Elem(), "") // still report unknown fields
	default:
		problems = append(problems, Problem{File: file, Line: kindLine, Field: "kind", Message: fmt.Sprintf(`Unsupported value: %q: a static pod manifest holds "Pod", "PodList" or "List" (of Pods)`, kind)})
	}
	problems = append(problems, dec.problems...)
	if len(problems) > 0 {
		return nil, problems
	}

	var out []loadedPod
	for _, r := range raws {
		pod := r.pod.DeepCopy()
		pod.Kind, pod.APIVersion = "Pod", "v1"
		pod.Status = v1.PodStatus{}
		SetDefaults(pod)
		Identify(pod, IdentityInput{Source: opts.Source, File: file, Content: r.hashed, NodeName: opts.NodeName, Now: opts.Now})
		for _, fe := range Validate(pod) {
			if len(problems) > maxProblems {
				break
			}
			field := fe.Field
			problems = append(problems, Problem{File: file, Line: dec.line(r.prefix, field), Field: joinPath(r.prefix, field), Message: fe.ErrorBody()})
		}
		out = append(out, loadedPod{pod: pod, line: r.line, prefix: r.prefix})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// tooManyPods is the problem of a document whose pods bring its file past
// MaxPodsPerFile: it has pods where only maxPods more were allowed.
func tooManyPods(file string, line int, field string, maxPods, pods int) Problem {
	total := MaxPodsPerFile - maxPods + pods
	return Problem{File: file, Line: line, Field: field, Message: fmt.Sprintf(
		"a file may hold at most %d pods, and this document brings it to %d: split them into several files", MaxPodsPerFile, total)}
}

// checkJSON holds a file that starts with '{' to JSON's syntax in its first
// document, as the kubelet reads such a file as JSON: YAML's flow syntax
// would also take trailing commas, unquoted keys and comments, which the
// kubelet refuses. (KYAML, which starts with "---", is YAML to both.)
func checkJSON(file string, data []byte, docs []document) (Problem, bool) {
	text := bytes.TrimLeftFunc(data, unicode.IsSpace)
	if len(text) == 0 || text[0] != '{' || len(docs) == 0 || json.Valid(docs[0].data) {
		return Problem{}, true
	}
	doc := docs[0]
	var raw json.RawMessage // checks the syntax only, and says where it fails
	var syntax *json.SyntaxError
	if err := json.Unmarshal(doc.data, &raw); !errors.As(err, &syntax) {
		return Problem{}, true
	}
	line := doc.line + bytes.Count(doc.data[:min(int(syntax.Offset), len(doc.data))], []byte("\n"))
	return Problem{File: file, Line: line, Message: "invalid JSON: " + syntax.Error() +
		" (a file that starts with '{' is JSON, as the kubelet reads it: no trailing commas, comments or unquoted keys)"}, false
}

type rawPod struct {
	pod    *v1.Pod
	line   int
	prefix string // field path prefix in the document ("items[2]" in lists)
	hashed []byte // the bytes the UID hashes
}

// typeOf reads apiVersion and kind of a top-level mapping.
func typeOf(top *yaml.Node) (apiVersion, kind string, kindLine int) {
	kindLine = top.Line
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "apiVersion":
			apiVersion = v.Value
		case "kind":
			kind, kindLine = v.Value, v.Line
		}
	}
	return apiVersion, kind, kindLine
}

func itemNodes(top *yaml.Node) []*yaml.Node {
	for i := 0; i+1 < len(top.Content); i += 2 {
		if items := deref(top.Content[i+1]); top.Content[i].Value == "items" && items.Kind == yaml.SequenceNode {
			return items.Content
		}
	}
	return nil
}

func (d *decoder) lineOfKey(top *yaml.Node, key string) int {
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == key {
			return top.Content[i].Line
		}
	}
	return top.Line
}

// line finds the line of prefix.field, or of its closest recorded ancestor.
func (d *decoder) line(prefix, field string) int {
	path := joinPath(prefix, field)
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut <= 0 {
			return d.lines[prefix]
		}
		path = path[:cut]
	}
}

// shiftLines adds offset to the line of n and of every node under it
// (aliases are not followed: their targets are in the tree too) and counts
// the nodes.
func shiftLines(n *yaml.Node, offset int) int {
	n.Line += offset
	count := 1
	for _, c := range n.Content {
		count += shiftLines(c, offset)
	}
	return count
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 syntax error in the document starting at
// docLine into a Problem.
func yamlProblem(file string, docLine int, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: docLine - 1 + line, Message: "invalid YAML: " + m[2]}
	}
	return Problem{File: file, Line: docLine, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
