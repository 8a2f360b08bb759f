package pause

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// WriteRootfs writes the sandbox image's root file system as a tar stream:
// the embedded pause program at Path when there is one (make build);
// otherwise this executable at Path, and, when it is dynamically linked (a
// plain `go build` with cgo, as Go users build), the dynamic loader it
// names and every shared library this process has mapped, at the paths the
// loader found them, so that it starts in an otherwise empty image.
// Called once per runner, when the sandbox image is missing.
func WriteRootfs(w io.Writer) error {
	tw := &rootfs{Writer: tar.NewWriter(w), dirs: map[string]bool{}}
	if Binary != nil {
		if err := addFile(tw, Path, bytes.NewReader(Binary), int64(len(Binary)), 0o755); err != nil {
			return err
		}
		return tw.Close()
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	if err := copyFile(tw, exe, Path, 0o755); err != nil {
		return err
	}
	interp, err := interpreter(exe)
	if err != nil {
		return err
	}
	if interp != "" {
		libs, err := mappedLibraries("/proc/self/maps", exe)
		if err != nil {
			return err
		}
		// The loader under the name the executable asks for (often a
		// symlink on the host), the libraries under the names it opened.
		if err := copyFile(tw, interp, interp, 0o755); err != nil {
			return err
		}
		for _, lib := range libs {
			if lib == interp {
				continue
			}
			if err := copyFile(tw, lib, lib, 0o755); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// interpreter is the dynamic loader an ELF executable names (PT_INTERP), ""
// for a static one.
func interpreter(exe string) (string, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", fmt.Errorf("read own executable %s: %w", exe, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		data, err := io.ReadAll(p.Open())
		if err != nil {
			return "", fmt.Errorf("read the interpreter of %s: %w", exe, err)
		}
		return strings.TrimRight(string(data), "\x00"), nil
	}
	return "", nil
}

// mappedLibraries lists the shared objects mapped into this process (from
// maps, a /proc/<pid>/maps file): exactly the files the loader resolved for
// the executable, whatever the host's library layout. The executable
// itself is left out.
func mappedLibraries(maps, exe string) ([]string, error) {
	f, err := os.Open(maps)
	if err != nil {
		return nil, fmt.Errorf("list own libraries: %w", err)
	}
	defer f.Close()
	exeReal, _ := filepath.EvalSymlinks(exe)
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		path := strings.Join(fields[5:], " ")
		if !strings.HasPrefix(path, "/") || !strings.Contains(filepath.Base(path), ".so") || path == exe || path == exeReal {
			continue
		}
		seen[path] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list own libraries: %w", err)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// rootfs is the tar being written, with the directories already in it.
type rootfs struct {
	*tar.Writer
	dirs map[string]bool
}

// copyFile adds the host file src (symlinks followed) to the tar as dst.
func copyFile(tw *rootfs, src, dst string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("build pause image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("build pause image: %w", err)
	}
	return addFile(tw, dst, f, st.Size(), mode)
}

// addFile adds a regular file, with its parent directories, to the tar.
func addFile(tw *rootfs, name string, r io.Reader, size, mode int64) error {
	name = strings.TrimPrefix(filepath.Clean(name), "/")
	epoch := time.Unix(0, 0)
	dir := ""
	for _, part := range strings.Split(filepath.Dir(name), "/") {
		if part == "." || part == "" {
			continue
		}
		dir = filepath.Join(dir, part)
		if tw.dirs[dir] {
			continue
		}
		tw.dirs[dir] = true
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: size, ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, r, size); err != nil {
		return fmt.Errorf("build pause image: copy %s: %w", name, err)
	}
	return nil
}
