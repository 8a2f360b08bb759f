package manifest

import (
	"path/filepath"
	"strings"
)

// ManifestName reports whether a file name in a manifest directory is read
// as a manifest, and when it is not, why (for a log line a user can act on).
// Only *.yaml, *.yml and *.json are read: editors' backups and swap files,
// dotfiles and "kube-apiserver.yaml.bak" copies must never shadow the real
// manifest, as they do with the kubelet. Called by the file source and by
// `runner validate` for directories.
func ManifestName(name string) (ok bool, reason string) {
	base := filepath.Base(name)
	switch {
	case strings.HasPrefix(base, "."):
		return false, "hidden files (dotfiles) are ignored"
	case strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"),
		strings.HasSuffix(base, ".bak"), strings.HasSuffix(base, ".orig"), strings.HasSuffix(base, ".tmp"):
		return false, "editor backups and temporary files are ignored; only *.yaml, *.yml and *.json are read"
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return true, ""
	}
	return false, "only *.yaml, *.yml and *.json are read"
}
