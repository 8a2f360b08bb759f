package cni

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// nsIdent identifies a network namespace: the device and inode of its nsfs
// file, which are the same for every path that refers to it.
type nsIdent struct{ dev, ino uint64 }

func (n nsIdent) String() string { return fmt.Sprintf("%d:%d", n.dev, n.ino) }

// netnsIdentity stats path.
func netnsIdentity(path string) (nsIdent, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsIdent{}, &fs.PathError{Op: "stat netns", Path: path, Err: err}
	}
	return nsIdent{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// ownNetNSPath is the namespace runner itself runs in.
const ownNetNSPath = "/proc/self/ns/net"

// recordPath is where Attach records the identity of a sandbox's namespace.
func (p *Plugin) recordPath(id, ifName string) string {
	return filepath.Join(p.cfg.CacheDir, "runner-netns", id+"-"+ifName)
}

// recordNetNS remembers which namespace Attach configured, so that Detach can
// tell it from another one that took over the same /proc/<pid> path.
func (p *Plugin) recordNetNS(id, ifName string, ident nsIdent) error {
	path := p.recordPath(id, ifName)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("record netns: %w", err)
	}
	if err := os.WriteFile(path, []byte(ident.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("record netns: %w", err)
	}
	return nil
}

// forgetNetNS removes the record of recordNetNS; a missing one is fine.
func (p *Plugin) forgetNetNS(id, ifName string) error {
	if err := os.Remove(p.recordPath(id, ifName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forget netns: %w", err)
	}
	return nil
}

// usableNetNS returns path when DEL may enter it, or "" when the namespace is
// gone, is runner's own (the pause process died and its pid was reused by a
// host process), or differs from the one Attach recorded. Entering a wrong
// namespace would delete somebody else's interface.
func (p *Plugin) usableNetNS(id, ifName, path string) string {
	if path == "" {
		return ""
	}
	ident, err := p.nsIdentity(path)
	if err != nil {
		return ""
	}
	if own, err := p.nsIdentity(ownNetNSPath); err != nil || own == ident {
		return ""
	}
	if data, err := os.ReadFile(p.recordPath(id, ifName)); err == nil {
		if strings.TrimSpace(string(data)) != ident.String() {
			return ""
		}
	}
	return path
}
