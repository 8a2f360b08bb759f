package volume

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// maxNameBytes is the longest file name Linux file systems take.
const maxNameBytes = 255

// CheckUID reports why uid cannot name a pod's directory, or nil. A pod's
// UID becomes a path component under --root-dir: it must be one component
// (no '/'), not "." or "..", not start with '.' (names runner keeps for
// itself), of printable ASCII without spaces or backslashes, and at most 255
// bytes. Pure; manifest validation may call it too.
func CheckUID(uid types.UID) error {
	if err := checkComponent(string(uid)); err != nil {
		return fmt.Errorf("pod UID %q cannot name a directory: %w", uid, err)
	}
	return nil
}

// checkComponent checks that name is one safe path component.
func checkComponent(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("it is empty")
	case len(name) > maxNameBytes:
		return fmt.Errorf("it is longer than %d bytes", maxNameBytes)
	case name[0] == '.':
		return fmt.Errorf("it starts with '.'")
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; b <= ' ' || b >= 0x7f || b == '/' || b == '\\' {
			return fmt.Errorf("it holds %q; use letters, digits and -._:", b)
		}
	}
	return nil
}

// checkName checks a volume or container name the same way as a UID.
func checkName(kind, name string) error {
	if err := checkComponent(name); err != nil {
		return fmt.Errorf("%s name %q cannot name a directory: %w", kind, name, err)
	}
	return nil
}

// CheckSubPath reports why p cannot be a subPath (or an expanded
// subPathExpr), as the kubelet checks it: it must be relative and hold no
// ".." element. Pure.
func CheckSubPath(p string) error {
	switch {
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("subPath %q holds a NUL byte", p)
	case path.IsAbs(p):
		return fmt.Errorf("subPath %q must be a relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("subPath %q must not contain '..' elements", p)
		}
	}
	return nil
}

// CheckItemPath reports why p cannot be the path of a file in a
// downwardAPI or projected volume, as the kubelet's AtomicWriter checks it:
// relative, no ".." element, not starting with ".." (the writer's own
// names), each element at most 255 bytes, at most 4096 bytes in all. Pure.
func CheckItemPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("file path is empty")
	case len(p) > 4096:
		return fmt.Errorf("file path %.40q... is longer than 4096 bytes", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("file path %q holds a NUL byte", p)
	case path.IsAbs(p):
		return fmt.Errorf("file path %q must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("file path %q must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "..":
			return fmt.Errorf("file path %q must not contain '..' elements", p)
		case len(part) > maxNameBytes:
			return fmt.Errorf("file path %q has an element longer than %d bytes", p, maxNameBytes)
		}
	}
	if path.Clean(p) == "." {
		return fmt.Errorf("file path %q names the volume itself", p)
	}
	return nil
}

// within reports whether p is dir or lies below it (both clean and
// absolute). Pure.
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
