package manifest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// names is "namespace/name" of each pod, in order.
func names(pods []*v1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

func TestLoadValidFixtures(t *testing.T) {
	cases := map[string][]string{
		"pod.yaml":            {"edge/web-node1"},
		"pod.json":            {"default/json-pod-node1"},
		"podlist.yaml":        {"default/first-node1", "kube-system/second-node1"},
		"list.json":           {"default/one-node1", "default/two-node1"},
		"multi-doc.yaml":      {"default/alpha-node1", "default/beta-node1", "default/gamma-node1"},
		"comments.yaml":       {"default/commented-node1"},
		"marker-content.yaml": {"default/after-comment-node1", "default/on-marker-node1", "default/after-tag-node1"},
		"crlf.yaml":           {"default/crlf-node1", "default/crlf-second-node1"},
		"tabs.json":           {"kube-system/tabbed-node1"},
		"empty.yaml":          nil,
		"comments-only.yaml":  nil,
		"pinned-uid.yaml":     {"default/pinned-node1"},
		"anchors.yaml":        {"default/anchored-node1"},
		"static-etcd.yaml":    {"kube-system/etcd-node1"},
	}
	seen := map[string]bool{}
	for _, fixture := range fixtures(t, "valid") {
		base := filepath.Base(fixture)
		seen[base] = true
		want, ok := cases[base]
		if !ok {
			t.Errorf("fixture %s has no case in TestLoadValidFixtures", base)
			continue
		}
		t.Run(base, func(t *testing.T) {
			pods, problems := loadFixture(t, fixture)
			if len(problems) > 0 {
				t.Fatalf("problems:\n%v", problems)
			}
			if got := names(pods); !slices.Equal(got, want) {
				t.Errorf("pods %q, want %q", got, want)
			}
			for _, p := range pods {
				if p.Kind != "Pod" || p.APIVersion != "v1" {
					t.Errorf("%s: kind %q apiVersion %q, want Pod v1", p.Name, p.Kind, p.APIVersion)
				}
			}
		})
	}
	for base := range cases {
		if !seen[base] {
			t.Errorf("case %s has no fixture", base)
		}
	}
}

// wantProblem is a problem a fixture must report: its line, its field path
// and words its message holds.
type wantProblem struct {
	line  int
	field string
	text  string
}

func TestLoadInvalidFixtures(t *testing.T) {
	cases := map[string][]wantProblem{
		"misspelt-field.yaml": {
			{9, "spec.containers[0].imagePullPolice", `unknown field "imagePullPolice": did you mean "imagePullPolicy"?`},
		},
		"three-pods-one-invalid.yaml": {
			{15, "spec.restartPolicy", `Unsupported value: "Sometimes"`},
			{17, "spec.containers[0].image", "Required value"},
			{18, "spec.containers[1].name", `Duplicate value: "c"`},
		},
		"wrong-types.yaml": {
			{6, "spec.hostNetwork", `must be a boolean (true or false), not the string "true"`},
			{11, "spec.containers[0].ports[0].containerPort", `must be an integer, not the string "8080"`},
			{14, "spec.containers[0].env[0].value", `must be a string, not the integer 8080: quote it ("8080")`},
			{16, "spec.containers[0].env[1].value", "must be a string, not the boolean true"},
			{17, "spec.containers[0].args", "must be a list"},
		},
		"duplicate-keys.yaml": {
			{7, "metadata.labels[app]", "duplicate key (first at line 6)"},
			{12, "spec.containers[0].image", "duplicate field (first at line 11)"},
		},
		"unknown-kind.yaml": {
			{2, "kind", `Unsupported value: "Pods"`},
		},
		"missing-apiversion.yaml": {
			{1, "apiVersion", "Required value"},
		},
		"deployment.yaml": {
			{1, "apiVersion", `Unsupported value: "apps/v1"`},
			{2, "kind", `Unsupported value: "Deployment"`},
		},
		"duplicate-pod.yaml": {
			{10, "metadata.name", "pod default/twice-node1 is defined twice in this file (first at line 1)"},
		},
		"syntax-error.yaml": {
			{14, "", "invalid YAML: mapping values are not allowed"},
		},
		"alias-cycle.yaml": {
			{11, "spec.containers[0].resources.limits[cpu]", "alias *loop refers to a value that contains it"},
		},
		"billion-laughs.yaml": {
			{7, "x-anchors", `unknown field "x-anchors"`},
			{8, "spec.containers[0].resources.limits[cpu]", "aliases expand this document to too many values"},
		},
		"podlist-bad-item.json": {
			{10, "items[1].apiVersion", `Unsupported value: "apps/v1"`},
			{11, "items[1].kind", `Unsupported value: "Deployment": a PodList may hold only Pods`},
		},
	}
	seen := map[string]bool{}
	for _, fixture := range fixtures(t, "invalid") {
		base := filepath.Base(fixture)
		seen[base] = true
		want, ok := cases[base]
		if !ok {
			t.Errorf("fixture %s has no case in TestLoadInvalidFixtures", base)
			continue
		}
		t.Run(base, func(t *testing.T) {
			pods, problems := loadFixture(t, fixture)
			if len(pods) > 0 {
				t.Errorf("an invalid file yielded pods %q; a file is all or nothing", names(pods))
			}
			checkProblems(t, problems, goldenPath(fixture), want)
		})
	}
	for base := range cases {
		if !seen[base] {
			t.Errorf("case %s has no fixture", base)
		}
	}
}

// checkProblems asserts that got is exactly want, in order, every problem
// naming file.
func checkProblems(t *testing.T, got Problems, file string, want []wantProblem) {
	t.Helper()
	for i, p := range got {
		if p.File != file {
			t.Errorf("problem %d names file %q, want %q", i, p.File, file)
		}
		if i >= len(want) {
			t.Errorf("unexpected problem: %s", p)
			continue
		}
		w := want[i]
		if p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, w.text) {
			t.Errorf("problem %d:\n got  %d %s: %s\n want %d %s: ...%s...", i, p.Line, p.Field, p.Message, w.line, w.field, w.text)
		}
	}
	for _, w := range want[min(len(got), len(want)):] {
		t.Errorf("missing problem: %d %s: %s", w.line, w.field, w.text)
	}
}

func TestLoadInline(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	cases := []struct {
		name string
		data string
		pods []string
		want []wantProblem
	}{
		{name: "syntax error in a later document keeps file lines",
			data: pod + "---\n" + strings.Replace(pod, "name: p", "name: q", 1) + "---\napiVersion: v1\nkind: Pod\nmetadata: [\n",
			want: []wantProblem{{21, "", "invalid YAML"}}},
		{name: "validation error in a later document keeps file lines",
			data: pod + "---\n" + strings.Replace(pod, "busybox:1.36", "''", 1),
			want: []wantProblem{{17, "spec.containers[0].image", "Required value"}}},
		{name: "CRLF lines are counted once",
			data: strings.ReplaceAll(pod+"---\n"+strings.Replace(pod, "name: c", "nam: c", 1), "\n", "\r\n"),
			want: []wantProblem{{16, "spec.containers[0].nam", `did you mean "name"?`}}},
		{name: "lone CR line endings: both documents, lines counted as YAML counts them",
			data: strings.ReplaceAll(pod+"---\n"+strings.Replace(pod, "name: p", "name: q", 1), "\n", "\r"),
			pods: []string{"default/p-node1", "default/q-node1"}},
		{name: "lone CR line endings: problem lines",
			data: strings.ReplaceAll(pod+"---\n"+strings.Replace(pod, "image:", "imag:", 1), "\n", "\r"),
			want: []wantProblem{{17, "spec.containers[0].imag", `did you mean "image"?`}}},
		{name: "misspelt case gets the case-sensitive hint",
			data: strings.Replace(pod, "image:", "Image:", 1),
			want: []wantProblem{{8, "spec.containers[0].Image", `did you mean "image"? (field names are case-sensitive)`}}},
		{name: "a field far from any other lists the allowed ones",
			data: strings.Replace(pod, "  name: p", "  name: p\n  zzzzzz: 1", 1),
			want: []wantProblem{{5, "metadata.zzzzzz", "allowed here: "}}},
		{name: "a document that is not a mapping",
			data: pod + "---\n- a\n- b\n",
			want: []wantProblem{{10, "", "must be a mapping"}}},
		{name: "missing kind still reports unknown fields",
			data: "apiVersion: v1\nmetadata: {name: p}\nspecs: {}\n",
			want: []wantProblem{{1, "kind", "Required value"}, {3, "specs", `did you mean "spec"?`}}},
		{name: "merge keys: own keys win, earlier merged mappings win",
			data: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: m\n  labels:\n    <<: [{a: first, b: first}, {b: second, c: second}]\n    a: own\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n",
			pods: []string{"default/m-node1"}},
		{name: "a merge key needs a mapping",
			data: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: m\n  labels:\n    <<: [a, b]\nspec: {}\n",
			want: []wantProblem{{6, "metadata.labels", "a merge key (<<) takes a mapping or a list of mappings"}, {6, "metadata.labels", "a merge key"}}},
		{name: "a quoted << is an ordinary key",
			data: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: m\n  annotations:\n    '<<': x\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n",
			want: []wantProblem{{5, "metadata.annotations", `Invalid value: "<<"`}}},
		{name: "a merge that refers to its own mapping",
			data: "apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: m\n  <<: *m\nspec: {}\n",
			want: []wantProblem{{5, "metadata", "alias *m refers to a value that contains it"}}},
		{name: "an alias reused in two fields",
			data: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: &l {app: a}\n  annotations: *l\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n",
			pods: []string{"default/a-node1"}},
		{name: "an empty List",
			data: "apiVersion: v1\nkind: List\nitems: []\n"},
		{name: "null documents",
			data: "---\n~\n",
			want: []wantProblem{{2, "", "must be a mapping"}}},
		{name: "a PodList item's field is placed at its line",
			data: "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n  spec:\n    containers:\n    - name: c\n      image: busybox:1.36\n- metadata: {name: b}\n  spec:\n    containers:\n    - name: c\n      image: busybox:1.36\n      imagePullPolicy: Sometimes\n",
			want: []wantProblem{{14, "items[1].spec.containers[0].imagePullPolicy", `Unsupported value: "Sometimes"`}}},
		{name: "a pod twice in a List",
			data: "apiVersion: v1\nkind: List\nitems:\n- metadata: &m {name: a}\n  spec: {containers: [{name: c, image: 'b:1'}]}\n- metadata: *m\n  spec: {containers: [{name: c, image: 'b:1'}]}\n",
			want: []wantProblem{{6, "items[1].metadata.name", "pod default/a-node1 is defined twice in this file (first at line 4)"}}},
		{name: "an alias to an anchor that is not defined",
			data: "apiVersion: v1\nkind: Pod\nmetadata: *nowhere\n",
			want: []wantProblem{{1, "", "unknown anchor 'nowhere'"}}},
		{name: "a byte order mark",
			data: "\ufeff" + pod + "---\n" + strings.Replace(pod, "name: p", "name: q", 1),
			pods: []string{"default/p-node1", "default/q-node1"}},
		{name: "the same name in two namespaces is two pods",
			data: pod + "---\n" + strings.Replace(pod, "  name: p", "  name: p\n  namespace: other", 1),
			pods: []string{"default/p-node1", "other/p-node1"}},
		{name: "numbers with no fraction are integers, as the kubelet reads them",
			data: pod + "    ports:\n    - containerPort: 80.0\n    - containerPort: 1e3\n  terminationGracePeriodSeconds: 1_0\n",
			pods: []string{"default/p-node1"}},
		{name: "a number with a fraction is no integer",
			data: pod + "  terminationGracePeriodSeconds: 30.5\n",
			want: []wantProblem{{9, "spec.terminationGracePeriodSeconds", `must be an integer, not the number "30.5"`}}},
		{name: "status is dropped",
			data: pod + "status:\n  phase: Running\n",
			pods: []string{"default/p-node1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pods, problems := Load("m.yaml", []byte(c.data), goldenOptions)
			if got := names(pods); !slices.Equal(got, c.pods) {
				t.Errorf("pods %q, want %q", got, c.pods)
			}
			checkProblems(t, problems, "m.yaml", c.want)
			for _, p := range pods {
				if p.Status.Phase != "" {
					t.Errorf("status kept: %+v", p.Status)
				}
			}
		})
	}
}

func TestLoadMergedValues(t *testing.T) {
	pods, problems := loadFixture(t, filepath.Join(fixtureDir, "valid", "anchors.yaml"))
	if len(problems) > 0 || len(pods) != 1 {
		t.Fatalf("pods %q problems %v", names(pods), problems)
	}
	p := pods[0]
	if got := p.Annotations["tier"]; got != "overridden" {
		t.Errorf("annotation tier %q: a key written beside a merge key must win", got)
	}
	if got := p.Annotations["app"]; got != "anchored" {
		t.Errorf("annotation app %q, want the merged value", got)
	}
	side := p.Spec.Containers[1]
	if side.Name != "side" || side.Image != "busybox:1.36" || side.ImagePullPolicy != v1.PullNever {
		t.Errorf("side container %q %q %q: want the own name, the first merge's image, the second's pull policy", side.Name, side.Image, side.ImagePullPolicy)
	}
	if env := p.Spec.Containers[0].Env; len(env) != 1 || env[0].Value != "init" {
		t.Errorf("aliased env %+v", env)
	}
}

func TestLoadSizeLimit(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	// Exactly MaxFileSize: a pod padded with a comment is still read.
	atLimit := []byte(pod + "#" + strings.Repeat("x", MaxFileSize-len(pod)-2) + "\n")
	if len(atLimit) != MaxFileSize {
		t.Fatalf("built %d bytes", len(atLimit))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(path, atLimit, 0o644); err != nil {
		t.Fatal(err)
	}
	if pods, problems := LoadFile(path, goldenOptions); len(problems) > 0 || len(pods) != 1 {
		t.Fatalf("a file of exactly %d bytes: pods %q problems %v", MaxFileSize, names(pods), problems)
	}

	over := append(atLimit, '\n')
	if pods, problems := Load("big.yaml", over, goldenOptions); len(pods) > 0 || len(problems) != 1 ||
		problems[0].File != "big.yaml" || !strings.Contains(problems[0].Message, "10 MiB") {
		t.Errorf("Load of %d bytes: pods %q problems %v", len(over), names(pods), problems)
	}
	if err := os.WriteFile(path, over, 0o644); err != nil {
		t.Fatal(err)
	}
	if pods, problems := LoadFile(path, goldenOptions); len(pods) > 0 || len(problems) != 1 ||
		problems[0].File != path || !strings.Contains(problems[0].Message, "10 MiB") {
		t.Errorf("LoadFile of %d bytes: pods %q problems %v", len(over), names(pods), problems)
	}
}

func TestLoadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone.yaml")
	pods, problems := LoadFile(path, goldenOptions)
	if len(pods) > 0 || len(problems) != 1 || problems[0].File != path || !strings.Contains(problems[0].Message, "cannot read") {
		t.Errorf("pods %q problems %v", names(pods), problems)
	}
}

// TestLoadSameAsLoadFile: LoadFile reads the file and loads it under its
// path, nothing else.
func TestLoadSameAsLoadFile(t *testing.T) {
	fixture := filepath.Join(fixtureDir, "valid", "multi-doc.yaml")
	fromFile, p1 := LoadFile(fixture, goldenOptions)
	fromBytes, p2 := Load(fixture, readFixture(t, fixture), goldenOptions)
	if len(p1)+len(p2) > 0 || len(fromFile) != 3 {
		t.Fatalf("problems %v %v, %d pods", p1, p2, len(fromFile))
	}
	for i := range fromFile {
		if fromFile[i].UID != fromBytes[i].UID {
			t.Errorf("pod %d: UID %s from the file, %s from its bytes", i, fromFile[i].UID, fromBytes[i].UID)
		}
	}
}

func TestProblemString(t *testing.T) {
	cases := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Field: "spec.x", Message: "bad"}, "a.yaml:3: spec.x: bad"},
		{Problem{File: "a.yaml", Message: "bad"}, "a.yaml: bad"},
		{Problem{File: "a.yaml", Line: 1, Message: "bad"}, "a.yaml:1: bad"},
	}
	for _, c := range cases {
		if got := c.p.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	ps := Problems{cases[0].p, cases[1].p}
	if got := ps.Error(); got != "a.yaml:3: spec.x: bad\na.yaml: bad" {
		t.Errorf("Error() = %q", got)
	}
}

// TestLoadProblemsInLineOrder: problems come in the order of the file even
// when validation finds them in another order.
func TestLoadProblemsInLineOrder(t *testing.T) {
	data := readFixture(t, filepath.Join(fixtureDir, "invalid", "three-pods-one-invalid.yaml"))
	_, problems := Load("f.yaml", data, goldenOptions)
	if len(problems) < 2 || !slices.IsSortedFunc(problems, func(a, b Problem) int { return a.Line - b.Line }) {
		t.Errorf("problems not in line order:\n%v", problems)
	}
	if !bytes.Contains(data, []byte("restartPolicy: Sometimes")) {
		t.Fatal("fixture changed")
	}
}

// TestLoadDocumentRefusesASecondDocument: should splitDocuments ever leave
// two documents in one, the second is reported, never dropped.
func TestLoadDocumentRefusesASecondDocument(t *testing.T) {
	pods, problems := loadDocument("f.yaml", document{line: 5, data: []byte("apiVersion: v1\nkind: List\n---\napiVersion: v1\n")}, goldenOptions, ptrTo(MaxPodsPerFile))
	checkProblems(t, problems, "f.yaml", []wantProblem{{7, "", "a second YAML document starts here"}})
	if len(pods) > 0 {
		t.Errorf("pods %v", pods)
	}
}

// TestLoadProblemCap: a file lists at most maxProblems problems and then
// says there are more, so a file of short bad lines cannot make a list of
// messages a hundred times its size.
func TestLoadProblemCap(t *testing.T) {
	var oneDoc strings.Builder
	oneDoc.WriteString("apiVersion: v1\nkind: Pod\nspec:\n")
	for i := range 500 {
		fmt.Fprintf(&oneDoc, "  unknown%d: 1\n", i)
	}
	manyDocs := strings.Repeat("apiVersion: v1\nkind: Pod\nspecs: {}\n---\n", MaxPodsPerFile-10)
	cases := []struct {
		name     string
		data     string
		lastLine int
	}{
		{"one document", oneDoc.String(), 4 + maxProblems},
		{"many documents", manyDocs, 4*maxProblems + 1}, // one problem per document: stopped at the next
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pods, problems := Load("f.yaml", []byte(c.data), goldenOptions)
			if len(pods) > 0 || len(problems) != maxProblems+1 {
				t.Fatalf("%d pods, %d problems, want %d problems", len(pods), len(problems), maxProblems+1)
			}
			last := problems[maxProblems]
			if last.Line != c.lastLine || !strings.Contains(last.Message, fmt.Sprintf("more than %d problems", maxProblems)) {
				t.Errorf("last problem %s, want one at line %d saying there are more", last, c.lastLine)
			}
			if !slices.IsSortedFunc(problems, func(a, b Problem) int { return a.Line - b.Line }) {
				t.Error("problems not in line order")
			}
		})
	}
}

// TestLoadOctalModes: file modes written the way people write them (0644,
// YAML 1.1's octal, as the kubelet reads it) and 0o600 (YAML 1.2's).
func TestLoadOctalModes(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  volumes:\n  - name: i\n    downwardAPI: {defaultMode: 0644, items: [{path: l, fieldRef: {fieldPath: metadata.labels}, mode: 0o600}]}\n  containers: [{name: c, image: 'b:1'}]\n"
	pods, problems := Load("f.yaml", []byte(data), goldenOptions)
	if len(problems) > 0 || len(pods) != 1 {
		t.Fatalf("problems %v", problems)
	}
	d := pods[0].Spec.Volumes[0].DownwardAPI
	if *d.DefaultMode != 0o644 || *d.Items[0].Mode != 0o600 {
		t.Errorf("modes %o and %o, want 644 and 600", *d.DefaultMode, *d.Items[0].Mode)
	}
}
