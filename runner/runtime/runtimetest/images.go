package runtimetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// testInspectImage inspects the test image.
func testInspectImage(h *harness) {
	img, err := h.rt.InspectImage(h.ctx(), h.opts.Image)
	if err != nil {
		h.t.Fatalf("InspectImage(%s): %v", h.opts.Image, err)
	}
	if !strings.HasPrefix(img.ID, "sha256:") || !slices.Contains(img.RepoTags, h.opts.Image) {
		h.t.Errorf("InspectImage = ID %q tags %v, want sha256:... and %s", img.ID, img.RepoTags, h.opts.Image)
	}
	if h.opts.ImageCmd != nil && !slices.Equal(img.Cmd, h.opts.ImageCmd) {
		h.t.Errorf("InspectImage Cmd = %q, want %q", img.Cmd, h.opts.ImageCmd)
	}
	if byID, err := h.rt.InspectImage(h.ctx(), img.ID); err != nil || byID.ID != img.ID {
		h.t.Errorf("InspectImage(ID) = %q, %v; want %q", byID.ID, err, img.ID)
	}
	h.wantListed(img.ID, true)
}

// wantListed checks whether ListImages holds image id.
func (h *harness) wantListed(id string, want bool) {
	h.t.Helper()
	list, err := h.rt.ListImages(h.ctx())
	if err != nil {
		h.t.Fatalf("ListImages: %v", err)
	}
	found := slices.ContainsFunc(list, func(img runtime.Image) bool { return img.ID == id })
	if found != want {
		h.t.Errorf("ListImages holds %s: %v, want %v", id, found, want)
	}
}

// testPullMissing: pulling an image nobody serves fails, promptly.
func testPullMissing(h *harness) {
	ctx, cancel := context.WithTimeout(h.ctx(), 2*time.Minute)
	defer cancel()
	ref := "runner.local/does-not-exist:1"
	err := h.rt.PullImage(ctx, ref, runtime.PullOptions{})
	if err == nil {
		h.t.Fatalf("PullImage(%s) succeeded", ref)
	}
	if ctx.Err() != nil {
		h.t.Fatalf("PullImage(%s) hung until its deadline: %v", ref, err)
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		h.t.Logf("PullImage(%s) failed without ErrNotFound (no registry to ask): %v", ref, err)
	}
}

// testImportImage imports a one-file root file system with changes, finds
// the image, checks that an image in use is not removed, and removes it.
func testImportImage(h *harness) {
	ctx := h.ctx()
	ref := "runner.local/runnertest-" + h.opts.RunID + ":import"
	h.removeImageAtEnd(ref)

	changes := []string{"ENV PATH=/bin", `ENTRYPOINT ["/hello"]`, `CMD ["world"]`}
	if err := h.rt.ImportImage(ctx, ref, tinyRootfs(h), changes); err != nil {
		h.t.Fatalf("ImportImage: %v", err)
	}
	img, err := h.rt.InspectImage(ctx, ref)
	if err != nil {
		h.t.Fatalf("InspectImage(%s): %v", ref, err)
	}
	if !strings.HasPrefix(img.ID, "sha256:") || !slices.Contains(img.RepoTags, ref) {
		h.t.Errorf("imported image ID %q tags %v, want sha256:... and %s", img.ID, img.RepoTags, ref)
	}
	if !slices.Equal(img.Entrypoint, []string{"/hello"}) || !slices.Equal(img.Cmd, []string{"world"}) {
		h.t.Errorf("imported config: entrypoint %q cmd %q, want [/hello] [world]", img.Entrypoint, img.Cmd)
	}
	h.wantListed(img.ID, true)

	spec := h.spec("user", "/hello")
	spec.Image = ref
	user := h.create(spec)
	h.wantErr("RemoveImage of an image in use", h.rt.RemoveImage(ctx, img.ID), runtime.ErrConflict)
	if err := h.rt.RemoveContainer(ctx, user); err != nil {
		h.t.Fatalf("RemoveContainer: %v", err)
	}
	if err := h.rt.RemoveImage(ctx, img.ID); err != nil {
		h.t.Fatalf("RemoveImage(%s): %v", img.ID, err)
	}
	_, err = h.rt.InspectImage(ctx, ref)
	h.wantErr("InspectImage after RemoveImage", err, runtime.ErrNotFound)
	h.wantListed(img.ID, false)
}

// tinyRootfs is a tarball holding one file.
func tinyRootfs(h *harness) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("hello from " + h.opts.RunID + "\n")
	hdr := &tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		h.t.Fatalf("tar header: %v", err)
	}
	if _, err := tw.Write(body); err != nil {
		h.t.Fatalf("tar body: %v", err)
	}
	if err := tw.Close(); err != nil {
		h.t.Fatalf("tar close: %v", err)
	}
	return &buf
}

// testLoadImage loads a `docker save` tarball: the image is there under
// its tag, with its config's command and the config's digest as ID;
// loading it again changes nothing.
func testLoadImage(h *harness) {
	ctx := h.ctx()
	ref := "runner.local/runnertest-" + h.opts.RunID + ":load"
	h.removeImageAtEnd(ref)
	var buf bytes.Buffer
	id, err := WriteSaveTarball(&buf, ref, []string{"/hello"}, map[string]string{"hello": "#!/bin/sh\n"})
	if err != nil {
		h.t.Fatalf("WriteSaveTarball: %v", err)
	}
	tarball := buf.Bytes()
	for range 2 {
		refs, err := h.rt.LoadImage(ctx, bytes.NewReader(tarball))
		if err != nil {
			h.t.Fatalf("LoadImage: %v", err)
		}
		if !slices.Equal(refs, []string{ref}) {
			h.t.Errorf("LoadImage = %q, want [%s]", refs, ref)
		}
	}
	img, err := h.rt.InspectImage(ctx, ref)
	if err != nil {
		h.t.Fatalf("InspectImage(%s): %v", ref, err)
	}
	if img.ID != id || !slices.Equal(img.Cmd, []string{"/hello"}) {
		h.t.Errorf("loaded image ID %s cmd %q, want %s [/hello]", img.ID, img.Cmd, id)
	}
	if _, err := h.rt.LoadImage(ctx, strings.NewReader("not a tarball")); err == nil {
		h.t.Errorf("LoadImage of garbage succeeded")
	}
}

// removeImageAtEnd removes image ref when the test ends, if it is there.
func (h *harness) removeImageAtEnd(ref string) {
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := h.rt.RemoveImage(ctx, ref); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			h.t.Errorf("cleanup: RemoveImage(%s): %v", ref, err)
		}
	})
}
