package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// FileReport is the outcome of checking one manifest file (or URL).
type FileReport struct {
	File     string   `json:"file"`
	Pods     []string `json:"pods,omitempty"` // namespace/name of each pod
	Problems Problems `json:"problems,omitempty"`
	// Ignored says why a file in a directory was not read.
	Ignored string `json:"ignored,omitempty"`
}

// EmptyMessage is the problem of a manifest file that holds nothing (or
// only white space): it defines no pod, and is most likely still being
// written or was cut off.
const EmptyMessage = "file is empty: it defines no pod (still being written, or cut off?)"

// ErrNotRegular is wrapped by ReadFile's error for a path that is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// Check checks every path (a file, or a directory whose manifests are read
// as the file source reads them) and reports on each file, with the pods
// defined in two files reported as conflicts (MarkConflicts). Called by
// `runner validate` and by tests.
func Check(paths []string, opts Options) []FileReport {
	var reports []FileReport
	for _, p := range paths {
		reports = append(reports, CheckPath(p, opts)...)
	}
	return MarkConflicts(reports)
}

// CheckPath checks one path: a file, or a directory whose files are read
// (or reported as ignored, with the reason) as the file source does. It
// never blocks: named pipes, sockets and devices are not opened. Called by
// Check and by `runner validate`.
func CheckPath(path string, opts Options) []FileReport {
	fi, err := os.Stat(path)
	if err != nil {
		return []FileReport{{File: path, Problems: Problems{{File: path, Message: readError(err).Error()}}}}
	}
	if !fi.IsDir() {
		return []FileReport{CheckFile(path, opts)}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return []FileReport{{File: path, Problems: Problems{{File: path, Message: fmt.Sprintf("cannot read directory: %v", errors.Unwrap(err))}}}}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var reports []FileReport
	for _, e := range entries {
		full := filepath.Join(path, e.Name())
		fi, err := os.Stat(full)
		if err != nil {
			fi = nil
		}
		if ok, why := Classify(e.Name(), fi); !ok {
			reports = append(reports, FileReport{File: full, Ignored: why})
			continue
		}
		reports = append(reports, CheckFile(full, opts))
	}
	return reports
}

// CheckFile reads and loads one manifest file and reports on it; an empty
// file is a problem. Called by CheckPath.
func CheckFile(path string, opts Options) FileReport {
	data, err := ReadFile(path)
	if err != nil {
		return FileReport{File: path, Problems: Problems{{File: path, Message: err.Error()}}}
	}
	return CheckData(path, data, opts)
}

// CheckData loads data read from file (a path or URL) and reports on it;
// empty data is a problem. Called by CheckFile and by the HTTP source's
// check of a URL.
func CheckData(file string, data []byte, opts Options) FileReport {
	r := FileReport{File: file}
	if len(bytes.TrimSpace(data)) == 0 {
		r.Problems = Problems{{File: file, Message: EmptyMessage}}
		return r
	}
	pods, problems := Load(file, data, opts)
	r.Problems = problems
	for _, p := range pods {
		r.Pods = append(r.Pods, p.Namespace+"/"+p.Name)
	}
	return r
}

// MarkConflicts adds a problem to every report that defines a pod
// (namespace/name) an earlier report defines too, naming both files: runner
// runs only one of them. It returns reports. Called by Check and by
// `runner validate` once every path and URL is checked.
func MarkConflicts(reports []FileReport) []FileReport {
	first := map[string]string{} // namespace/name → file
	for i := range reports {
		r := &reports[i]
		for _, name := range r.Pods {
			prev, dup := first[name]
			if !dup {
				first[name] = r.File
				continue
			}
			if prev == r.File {
				continue
			}
			r.Problems = append(r.Problems, Problem{File: r.File, Field: "metadata.name",
				Message: fmt.Sprintf("conflict: pod %s is also defined in %s; runner runs only one of them (the one it already runs, else that one) and ignores the other", name, prev)})
		}
	}
	return reports
}

// ReadFile reads the manifest file at path, at most MaxFileSize bytes, and
// never blocks: it stats the path first and opens only a regular file (a
// named pipe would block the open or the read, a device may have effects on
// open), with O_NONBLOCK against a swap between the stat and the open. Its
// errors read "cannot read: ..." without the path, which problems carry.
// Safe for concurrent use. Called by the file source and CheckFile.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, readError(err)
	}
	if what := NotRegular(fi.Mode()); what != "" {
		return nil, fmt.Errorf("cannot read: %s: %w", what, ErrNotRegular)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, readError(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, readError(err)
	}
	if what := NotRegular(fi.Mode()); what != "" {
		return nil, fmt.Errorf("cannot read: %s: %w", what, ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, readError(err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes (10 MiB), the most a manifest may be", MaxFileSize)
	}
	return data, nil
}

// readError is "cannot read: <reason>", without the path of a PathError.
func readError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read: %w", err)
}
