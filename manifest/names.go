package manifest

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// readNames is the list of names read, for messages.
const readNames = "only *.yaml, *.yml, *.json and *.manifest are read"

// ManifestName reports whether a file name in a manifest directory is read
// as a manifest, and when it is not, why (for a log line a user can act on).
// Only *.yaml, *.yml, *.json and *.manifest (the name kops and GCE kube-up
// give their static pods) are read: editors' backups and swap files,
// dotfiles and "kube-apiserver.yaml.bak" copies must never shadow the real
// manifest, as they do with the kubelet. Called by Classify.
func ManifestName(name string) (ok bool, reason string) {
	base := filepath.Base(name)
	switch {
	case strings.HasPrefix(base, "."):
		return false, "hidden files (dotfiles) are ignored"
	case strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"),
		strings.HasSuffix(base, ".bak"), strings.HasSuffix(base, ".orig"), strings.HasSuffix(base, ".tmp"):
		return false, "editor backups and temporary files are ignored; " + readNames
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json", ".manifest":
		return true, ""
	}
	return false, readNames
}

// Classify decides whether an entry of a manifest directory is read, and
// when it is not, why. fi is what os.Stat (which follows symlinks) says of
// the entry, or nil when Stat failed (a dangling symlink, a permission
// problem): such an entry is read when its name is, and the read reports why
// it cannot be. Only regular files are read: a named pipe, a socket or a
// device (also behind a symlink, such as a manifest masked by a link to
// /dev/null) is ignored, so reading a directory never blocks. Called by the
// file source and by Check, so that the daemon and `runner validate` read
// the same files.
func Classify(name string, fi fs.FileInfo) (read bool, reason string) {
	if fi != nil && fi.IsDir() && !strings.HasPrefix(name, ".") {
		return false, "subdirectories are not read"
	}
	if ok, why := ManifestName(name); !ok {
		return false, why
	}
	if fi != nil {
		if what := NotRegular(fi.Mode()); what != "" {
			return false, "not a regular file (" + what + "); only regular files, or symlinks to them, are read"
		}
	}
	return true, ""
}

// NotRegular names what a file of this mode is when it is not a regular
// file ("a named pipe (FIFO)"), and returns "" for a regular file.
func NotRegular(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return ""
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}
