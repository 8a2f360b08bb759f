package manifest

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// uids maps each pod's namespace/name to its UID.
func uids(t *testing.T, file string, data []byte, opts Options) map[string]types.UID {
	t.Helper()
	pods, problems := Load(file, data, opts)
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems)
	}
	out := map[string]types.UID{}
	for _, p := range pods {
		out[p.Namespace+"/"+p.Name] = p.UID
	}
	return out
}

// TestStaticUIDIsPinned: the UID scheme is part of runner's contract (a
// changed UID restarts the pod); this vector was computed with sha256sum.
func TestStaticUIDIsPinned(t *testing.T) {
	got := StaticUID(SourceFile, "/etc/kubernetes/manifests/etcd.yaml", "node1", []byte("apiVersion: v1\n"))
	if got != "3905cabbdfe3521cb99a08e6fe8b49c0" {
		t.Errorf("StaticUID = %s: the scheme changed, every static pod would restart on upgrade", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(string(got)) {
		t.Errorf("StaticUID %q is not 32 hex digits", got)
	}
	// The parts are separated: moving a byte from one to the next changes it.
	if StaticUID("file", "ab", "n", []byte("c")) == StaticUID("file", "a", "n", []byte("bc")) ||
		StaticUID("fil", "ea", "n", []byte("b")) == StaticUID("file", "a", "n", []byte("b")) ||
		StaticUID("file", "a", "nb", []byte("c")) == StaticUID("file", "a", "n", []byte("bc")) {
		t.Error("StaticUID does not separate source, file, node and content")
	}
	if StaticUID("file", "a", "node1", nil) == StaticUID("file", "a", "node2", nil) {
		t.Error("the node name is not part of the UID")
	}
}

func TestUIDStableAcrossLoads(t *testing.T) {
	for _, fixture := range fixtures(t, "valid") {
		data := readFixture(t, fixture)
		first := uids(t, fixture, data, goldenOptions)
		// Another clock, a copy of the bytes: the same UIDs.
		later := goldenOptions
		later.Now = func() time.Time { return goldenTime.Add(time.Hour) }
		second := uids(t, fixture, bytes.Clone(data), later)
		if len(first) != len(second) {
			t.Fatalf("%s: %d then %d pods", fixture, len(first), len(second))
		}
		for name, uid := range first {
			if second[name] != uid {
				t.Errorf("%s: pod %s has UID %s, then %s", fixture, name, uid, second[name])
			}
		}
	}
}

func TestUIDChanges(t *testing.T) {
	fixture := filepath.Join(fixtureDir, "valid", "pod.yaml")
	data := readFixture(t, fixture)
	const pod = "edge/web-node1"
	base := uids(t, fixture, data, goldenOptions)[pod]
	httpOpts := goldenOptions
	httpOpts.Source = SourceHTTP
	cases := []struct {
		name string
		file string
		data []byte
		opts Options
	}{
		{"a changed value", fixture, bytes.Replace(data, []byte("8080"), []byte("8081"), 1), goldenOptions},
		{"a changed comment", fixture, append(bytes.Clone(data), "# edited\n"...), goldenOptions},
		{"changed indentation", fixture, bytes.ReplaceAll(data, []byte("\n  "), []byte("\n    ")), goldenOptions},
		{"CRLF line endings", fixture, bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), goldenOptions},
		{"another path", fixture + ".copy.yaml", data, goldenOptions},
		{"another source", fixture, data, httpOpts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := uids(t, c.file, c.data, c.opts)[pod]
			if got == "" || got == base {
				t.Errorf("UID %q, want a new one (was %s)", got, base)
			}
		})
	}
}

// TestUIDPerDocument: a pod's UID hashes only its own document, so editing,
// adding, removing or moving another document of the file leaves it alone.
func TestUIDPerDocument(t *testing.T) {
	fixture := filepath.Join(fixtureDir, "valid", "multi-doc.yaml")
	data := string(readFixture(t, fixture))
	docs := strings.Split(data, "---\n") // "", alpha, beta, "\n", gamma, ""
	if len(docs) != 6 || !strings.Contains(docs[2], "name: beta") {
		t.Fatalf("fixture changed: %q", docs)
	}
	alpha, beta, gamma := docs[1], docs[2], docs[4]
	const extra = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: delta\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	before := uids(t, fixture, []byte(data), goldenOptions)
	if len(before) != 3 {
		t.Fatalf("%d pods", len(before))
	}
	cases := []struct {
		name    string
		data    string
		changed string // the pod whose UID must change, if any
	}{
		{"beta's image edited", strings.Replace(data, beta, strings.Replace(beta, "busybox:1.36", "busybox:1.37", 1), 1), "default/beta-node1"},
		{"a document added first", extra + "---\n" + data, ""},
		{"a document added in the middle", strings.Replace(data, beta, beta+"---\n"+extra, 1), ""},
		{"beta removed", strings.Replace(data, beta, "", 1), ""},
		{"documents reordered, no leading marker", gamma + "---\n" + alpha + "---\n" + beta, ""},
		{"empty documents and a trailing marker dropped", alpha + "---\n" + beta + "---\n" + gamma, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			after := uids(t, fixture, []byte(c.data), goldenOptions)
			for name, uid := range before {
				got, ok := after[name]
				switch {
				case !ok:
					// removed on purpose
				case name == c.changed && got == uid:
					t.Errorf("%s kept UID %s though its document changed", name, uid)
				case name != c.changed && got != uid:
					t.Errorf("%s: UID %s became %s though its document did not change", name, uid, got)
				}
			}
		})
	}
}

// TestUIDListItems: each pod of a List has its own UID, and editing or
// moving one item leaves the UIDs of the others alone.
func TestUIDListItems(t *testing.T) {
	const list = `{"apiVersion": "v1", "kind": "List", "items": [
 {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
 {"metadata": {"name": "a", "namespace": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}]}`
	got := uids(t, "l.json", []byte(list), goldenOptions)
	if len(got) != 2 || got["default/a-node1"] == got["b/a-node1"] {
		t.Errorf("UIDs %v", got)
	}
	edited := `{"apiVersion": "v1", "kind": "List", "items": [
 {"metadata": {"name": "a", "namespace": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
 {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}]}`
	after := uids(t, "l.json", []byte(edited), goldenOptions)
	if after["b/a-node1"] != got["b/a-node1"] {
		t.Errorf("moving an item changed its UID: %s → %s", got["b/a-node1"], after["b/a-node1"])
	}
	if after["default/a-node1"] == got["default/a-node1"] {
		t.Errorf("editing an item kept its UID")
	}
}

func TestIdentifyFromLoad(t *testing.T) {
	opts := Options{NodeName: "Edge-Box.Example", Source: SourceHTTP, Now: func() time.Time {
		return time.Date(2025, 6, 7, 10, 11, 12, 13, time.FixedZone("CEST", 2*3600))
	}}
	pods, problems := Load("http://10.0.0.1/pods.yaml", readFixture(t, filepath.Join(fixtureDir, "valid", "pinned-uid.yaml")), opts)
	if len(problems) > 0 || len(pods) != 1 {
		t.Fatalf("pods %q problems %v", names(pods), problems)
	}
	p := pods[0]
	checks := []struct{ what, got, want string }{
		{"name", p.Name, "pinned-edge-box.example"},
		{"namespace", p.Namespace, "default"},
		{"spec.nodeName", p.Spec.NodeName, "edge-box.example"},
		{"uid (pinned)", string(p.UID), "8d1e7a39-3c5b-4f0e-9a57-2f4c1d9b6e10"},
		{"config.hash", p.Annotations[AnnotationConfigHash], "8d1e7a39-3c5b-4f0e-9a57-2f4c1d9b6e10"},
		{"config.source", p.Annotations[AnnotationConfigSource], "http"},
		{"config.seen (UTC)", p.Annotations[AnnotationConfigSeen], "2025-06-07T08:11:12.000000013Z"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestIdentify(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	newPod := func() *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns",
			Annotations: map[string]string{"keep": "me", AnnotationConfigSource: "forged", AnnotationConfigHash: "forged"}},
			Spec: v1.PodSpec{NodeName: "elsewhere"}}
	}
	in := IdentityInput{Source: SourceFile, File: "/m/web.yaml", Content: []byte("x"), NodeName: "NODE1", Now: func() time.Time { return at }}

	p := newPod()
	Identify(p, in)
	if p.Name != "web-node1" || p.Spec.NodeName != "node1" || p.Namespace != "ns" {
		t.Errorf("name %q node %q namespace %q", p.Name, p.Spec.NodeName, p.Namespace)
	}
	if want := StaticUID(SourceFile, "/m/web.yaml", "node1", []byte("x")); p.UID != want {
		t.Errorf("UID %s, want %s", p.UID, want)
	}
	wantAnn := map[string]string{"keep": "me", AnnotationConfigSource: "file", AnnotationConfigHash: string(p.UID), AnnotationConfigSeen: "2024-05-06T07:08:09Z"}
	if len(p.Annotations) != len(wantAnn) {
		t.Errorf("annotations %v, want %v", p.Annotations, wantAnn)
	}
	for k, v := range wantAnn {
		if p.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, p.Annotations[k], v)
		}
	}

	// No node: the name and spec.nodeName are left as written.
	p = newPod()
	in.NodeName = ""
	Identify(p, in)
	if p.Name != "web" || p.Spec.NodeName != "elsewhere" {
		t.Errorf("without a node: name %q nodeName %q", p.Name, p.Spec.NodeName)
	}

	// No annotations at all; no clock: now.
	p = &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}
	in.Now = nil
	before := time.Now().UTC()
	Identify(p, in)
	seen, err := time.Parse(time.RFC3339Nano, p.Annotations[AnnotationConfigSeen])
	if err != nil || seen.Before(before.Add(-time.Second)) || seen.After(time.Now().Add(time.Second)) {
		t.Errorf("config.seen %q (%v) is not now", p.Annotations[AnnotationConfigSeen], err)
	}
}

// TestUIDLeavesDirectivesOut: a document's directives (%YAML, %TAG) and
// their "---" are parsed with it but not hashed, as before runner kept them
// with their document, so that upgrading runner restarts no such pod.
func TestUIDLeavesDirectivesOut(t *testing.T) {
	const file = "/etc/kubernetes/manifests/p.yaml"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	got := uids(t, file, []byte("%YAML 1.1\n# comment\n---\n"+pod), goldenOptions)
	want := StaticUID(SourceFile, file, "node1", []byte(pod))
	if got["default/p-node1"] != want {
		t.Errorf("UID %s, want %s (the pod's bytes alone)", got["default/p-node1"], want)
	}
}
