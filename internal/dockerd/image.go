package dockerd

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// busybox is the static busybox the test image is made of, as
// testdata/setup.sh makes it for the machine's engine.
const busybox = "/bin/busybox"

// ImportBusybox imports the test image as testdata/setup.sh makes it (a
// static busybox with its applets in /bin, passwd and group files, a web
// page in /var/www; PATH=/bin, CMD sh) under ref. No registry is involved.
func (d *Daemon) ImportBusybox(ctx context.Context, ref string) error {
	rootfs, err := busyboxRootfs()
	if err != nil {
		return err
	}
	if err := d.rt.ImportImage(ctx, ref, bytes.NewReader(rootfs), []string{"ENV PATH=/bin", `CMD ["sh"]`}); err != nil {
		return fmt.Errorf("private dockerd: %w", err)
	}
	return nil
}

// busyboxRootfs is the test image's root file system as a tar stream.
func busyboxRootfs() ([]byte, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("the test image needs a static busybox (make setup): %w", err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, dir := range []string{"bin", "tmp", "etc", "var", "var/www"} {
		mode := int64(0o755)
		if dir == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")},
		{"etc/group", 0o644, []byte("root:x:0:\n")},
		{"var/www/index.html", 0o644, []byte("<h1>runner test page</h1>\n")},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: now}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	for _, app := range strings.Fields(string(out)) {
		if app == "busybox" || strings.Contains(app, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + app, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
