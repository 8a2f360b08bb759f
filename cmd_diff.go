package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// diffCommand is `runner diff`: what runner would do if these files were
// its manifests, touching nothing.
func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "say which pods would start, restart or be removed if these files were the manifest directory",
		ArgsUsage: "DIR|FILE",
		Description: `Compares DIR (which would replace --manifest-dir) or FILE (which would replace
the file of the same name in it) with what --manifest-dir holds now, as runner
reads both: each new file is read as if it were in --manifest-dir, so a pod whose
content is unchanged keeps its UID and is not restarted. Prints one line per pod
that would start, restart (with the fields that differ) or be removed, and one per
file that would be refused (its pods keep running). Changes nothing. Exits 0 when
nothing would change, 1 when something would, 2 on a usage error.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "manifest-dir", Aliases: []string{"pod-manifest-path"}, EnvVars: []string{"RUNNER_MANIFEST_DIR"},
				Value: "/etc/kubernetes/manifests", Usage: "the manifest directory runner runs now"},
			&cli.StringFlag{Name: "node-name", Aliases: []string{"hostname-override"}, EnvVars: []string{"RUNNER_NODE_NAME"},
				Value: defaultNodeName(), Usage: "node name used to name the pods"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cli.Exit("diff needs one DIR or FILE (see runner diff --help)", exitUsage)
			}
			opts := manifestOptions(c)
			current := c.String("manifest-dir")
			target := c.Args().First()
			st, err := os.Stat(target)
			if err != nil {
				return cli.Exit(fmt.Sprintf("diff: %v", err), exitUsage)
			}
			before := readManifestDir(current, nil, opts)
			var after manifestSet
			if st.IsDir() {
				after = readManifestDir(target, &current, opts)
			} else {
				// FILE replaces its namesake in the manifest directory.
				after = readManifestDir(current, nil, opts)
				base := filepath.Base(target)
				after.drop(filepath.Join(current, base))
				after.read(target, filepath.Join(current, base), opts)
			}
			changes := diffSets(before, after)
			printDiff(c.App.Writer, changes, after.problems)
			for _, ch := range changes {
				if ch.kind != "" {
					return cli.Exit("", exitFail)
				}
			}
			return nil
		},
	}
}

// manifestSet is the pods of a set of manifest files, by namespace/name,
// with the files that were refused.
type manifestSet struct {
	pods     map[string]diffPod
	problems manifest.Problems
	// refused: files that would be refused; their pods keep running.
	refused map[string]bool
}

type diffPod struct {
	pod  *v1.Pod
	file string
}

// readManifestDir reads the manifest files of dir as the file source does;
// with as set, each is read as if it were in *as (its UIDs those it would
// get there).
func readManifestDir(dir string, as *string, opts manifest.Options) manifestSet {
	s := manifestSet{pods: map[string]diffPod{}, refused: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.problems = append(s.problems, manifest.Problem{File: dir, Message: fmt.Sprintf("cannot read: %v", err)})
		return s
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		fi, _ := os.Stat(path)
		if ok, _ := manifest.Classify(e.Name(), fi); !ok {
			continue
		}
		origin := path
		if as != nil {
			origin = filepath.Join(*as, e.Name())
		}
		s.read(path, origin, opts)
	}
	return s
}

// read adds the pods of the file at path, read as if it were at origin.
func (s *manifestSet) read(path, origin string, opts manifest.Options) {
	data, err := manifest.ReadFile(path)
	if err != nil {
		s.problems = append(s.problems, manifest.Problem{File: path, Message: err.Error()})
		s.refused[origin] = true
		return
	}
	pods, problems := manifest.Load(origin, data, opts)
	if len(problems) > 0 {
		for _, p := range problems {
			p.File = path
			s.problems = append(s.problems, p)
		}
		s.refused[origin] = true
		return
	}
	for _, p := range pods {
		s.pods[p.Namespace+"/"+p.Name] = diffPod{pod: p, file: origin}
	}
}

// drop forgets the pods of file.
func (s *manifestSet) drop(file string) {
	for k, p := range s.pods {
		if p.file == file {
			delete(s.pods, k)
		}
	}
}

// podChange is one pod's fate.
type podChange struct {
	kind   string // "start", "restart", "remove", or "" (unchanged)
	pod    string
	file   string
	fields []string // restart: what differs
}

// diffSets compares what runs (before) with what would (after). A pod of a
// file that would be refused keeps running: it is no change.
func diffSets(before, after manifestSet) []podChange {
	var out []podChange
	keys := map[string]bool{}
	for k := range before.pods {
		keys[k] = true
	}
	for k := range after.pods {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b, had := before.pods[k]
		a, has := after.pods[k]
		switch {
		case !had:
			out = append(out, podChange{kind: "start", pod: k, file: a.file})
		case !has && after.refused[b.file]:
			out = append(out, podChange{pod: k, file: b.file})
		case !has:
			out = append(out, podChange{kind: "remove", pod: k, file: b.file})
		case a.pod.UID == b.pod.UID:
			out = append(out, podChange{pod: k, file: a.file})
		default:
			out = append(out, podChange{kind: "restart", pod: k, file: a.file, fields: podDifferences(b.pod, a.pod)})
		}
	}
	return out
}

// podDifferences lists the field paths in which two versions of a pod
// differ, as the apiserver names them, leaving out what identifies a
// version (UID, config.* annotations).
func podDifferences(a, b *v1.Pod) []string {
	clean := func(p *v1.Pod) any {
		p = p.DeepCopy()
		p.UID = ""
		for _, k := range []string{manifest.AnnotationConfigHash, manifest.AnnotationConfigSeen, manifest.AnnotationConfigSource} {
			delete(p.Annotations, k)
		}
		data, _ := json.Marshal(struct {
			Metadata any        `json:"metadata"`
			Spec     v1.PodSpec `json:"spec"`
		}{p.ObjectMeta, p.Spec})
		var v any
		_ = json.Unmarshal(data, &v)
		return v
	}
	var out []string
	walkDiff("", clean(a), clean(b), &out)
	if len(out) == 0 {
		out = []string{"(the manifest's text only: formatting or comments)"}
	}
	return out
}

func walkDiff(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkDiff(p, am[k], bm[k], out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			walkDiff(path+"["+strconv.Itoa(i)+"]", al[i], bl[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

// printDiff prints the changes and the refused files.
func printDiff(w io.Writer, changes []podChange, problems manifest.Problems) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	n := 0
	for _, ch := range changes {
		if ch.kind == "" {
			continue
		}
		n++
		line := fmt.Sprintf("%s\t%s\t%s", ch.kind, ch.pod, ch.file)
		if len(ch.fields) > 0 {
			line += "\t" + fmt.Sprint(ch.fields)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, p := range problems {
		fmt.Fprintln(w, "refused\t"+p.String()+" (its pods keep running)")
	}
	if n == 0 {
		fmt.Fprintln(w, "no pod would change")
	}
}
