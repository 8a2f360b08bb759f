package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// FileReport is the outcome of checking one manifest file.
type FileReport struct {
	File     string   `json:"file"`
	Pods     []string `json:"pods,omitempty"` // namespace/name of each pod
	Problems Problems `json:"problems,omitempty"`
	// Ignored says why a file in a directory was not read.
	Ignored string `json:"ignored,omitempty"`
}

// Check loads every path (a file, or a directory whose manifest files are
// read as the file source reads them) and reports on each file. Called by
// `runner validate`.
func Check(paths []string, opts Options) []FileReport {
	var reports []FileReport
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			reports = append(reports, FileReport{File: p, Problems: Problems{{File: p, Message: fmt.Sprintf("cannot read: %v", err)}}})
			continue
		}
		if !st.IsDir() {
			reports = append(reports, checkFile(p, opts))
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			reports = append(reports, FileReport{File: p, Problems: Problems{{File: p, Message: fmt.Sprintf("cannot read directory: %v", err)}}})
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			full := filepath.Join(p, e.Name())
			if e.IsDir() {
				continue
			}
			if ok, why := ManifestName(e.Name()); !ok {
				reports = append(reports, FileReport{File: full, Ignored: why})
				continue
			}
			reports = append(reports, checkFile(full, opts))
		}
	}
	return reports
}

func checkFile(path string, opts Options) FileReport {
	pods, problems := LoadFile(path, opts)
	r := FileReport{File: path, Problems: problems}
	for _, p := range pods {
		r.Pods = append(r.Pods, p.Namespace+"/"+p.Name)
	}
	return r
}
