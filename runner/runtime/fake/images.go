package fake

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/runner-dev/runner/runner/runtime"
)

// fakeImage is one simulated image. Guarded by Runtime.mu.
type fakeImage struct {
	runtime.Image
	// rootfs is the tarball the image was imported from (nil when added).
	rootfs []byte
}

// normalizeRef appends ":latest" to a reference with neither tag nor digest,
// as Docker does.
func normalizeRef(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	if strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		return ref
	}
	return ref + ":latest"
}

// AddImage makes img present, as if pulled, and returns its ID. An empty ID
// is derived from the tags; CreatedAt defaults to Now. A tag another image
// holds moves to this one.
func (r *Runtime) AddImage(img runtime.Image) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addImageLocked(img)
}

// addImageLocked stores img. The caller holds r.mu.
func (r *Runtime) addImageLocked(img runtime.Image) string {
	img.RepoTags = slices.Clone(img.RepoTags)
	for i, t := range img.RepoTags {
		img.RepoTags[i] = normalizeRef(t)
	}
	if img.ID == "" {
		sum := sha256.Sum256([]byte(strings.Join(img.RepoTags, ",") + "#" + strconv.Itoa(r.nextSeqLocked())))
		img.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if img.CreatedAt.IsZero() {
		img.CreatedAt = r.now()
	}
	for _, t := range img.RepoTags {
		r.untagLocked(t)
	}
	if old, ok := r.images[img.ID]; ok {
		img.RepoTags = append(old.RepoTags, img.RepoTags...)
	}
	r.images[img.ID] = &fakeImage{Image: img}
	return img.ID
}

// untagLocked takes tag off whichever image holds it; an image left without
// tags stays, untagged. The caller holds r.mu.
func (r *Runtime) untagLocked(tag string) {
	for _, img := range r.images {
		img.RepoTags = slices.DeleteFunc(img.RepoTags, func(t string) bool { return t == tag })
	}
}

// AllowPull makes ref pullable: PullImage of it then creates an image with
// that tag. Any other pull fails with runtime.ErrNotFound.
func (r *Runtime) AllowPull(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pullable[normalizeRef(ref)] = true
}

// findImageLocked resolves ref: a tag, a full ID or an unambiguous ID prefix
// (with or without "sha256:"). The caller holds r.mu.
func (r *Runtime) findImageLocked(ref string) (*fakeImage, error) {
	if img, ok := r.images[ref]; ok {
		return img, nil
	}
	tag := normalizeRef(ref)
	for _, img := range r.images {
		if slices.Contains(img.RepoTags, tag) {
			return img, nil
		}
	}
	hexRef := strings.TrimPrefix(ref, "sha256:")
	if hexRef != "" && strings.Trim(hexRef, "0123456789abcdef") == "" {
		var found *fakeImage
		for id, img := range r.images {
			if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), hexRef) {
				if found != nil {
					return nil, fmt.Errorf("image %s: ambiguous ID prefix", ref)
				}
				found = img
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("%w: no such image: %s", runtime.ErrNotFound, ref)
}

// InspectImage returns image ref with its config.
func (r *Runtime) InspectImage(ctx context.Context, ref string) (runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("InspectImage", ref); err != nil {
		return runtime.Image{}, err
	}
	if err := ctx.Err(); err != nil {
		return runtime.Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	img, err := r.findImageLocked(ref)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return cloneImage(img.Image), nil
}

func cloneImage(img runtime.Image) runtime.Image {
	img.RepoTags = slices.Clone(img.RepoTags)
	img.Entrypoint = cloneStrings(img.Entrypoint)
	img.Cmd = cloneStrings(img.Cmd)
	return img
}

// ListImages lists the images, oldest first, without their config (like
// the Docker adapter: InspectImage reads it).
func (r *Runtime) ListImages(ctx context.Context) ([]runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.recordLocked("ListImages", ""); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]runtime.Image, 0, len(r.images))
	for _, img := range r.images {
		out = append(out, runtime.Image{
			ID:        img.ID,
			RepoTags:  slices.Clone(img.RepoTags),
			Size:      img.Size,
			CreatedAt: img.CreatedAt,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// PullImage creates image ref if AllowPull registered it, else fails with
// runtime.ErrNotFound. Pulling a present, pullable ref changes nothing. It
// records opts.Auth (PullAuth) and reports a two-layer pull to
// opts.Progress: each layer named, half of the bytes, all, both done.
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	r.mu.Lock()
	op := "pull image " + ref
	err := r.recordLocked("PullImage", ref)
	if err == nil {
		err = ctx.Err()
	}
	tag := normalizeRef(ref)
	if opts.Auth != nil {
		r.pullAuth[tag] = *opts.Auth
	}
	pullable := r.pullable[tag]
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !pullable {
		return fmt.Errorf("%s: %w: manifest for %s not found", op, runtime.ErrNotFound, tag)
	}
	if opts.Progress != nil {
		const layer = 512 << 10
		for _, p := range []runtime.PullProgress{
			{Layers: 1}, {Layers: 2, Total: 2 * layer},
			{Layers: 2, Current: layer, Total: 2 * layer},
			{Layers: 2, LayersDone: 1, Current: 2 * layer, Total: 2 * layer},
			{Layers: 2, LayersDone: 2, Current: 2 * layer, Total: 2 * layer},
		} {
			opts.Progress(p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.findImageLocked(tag); err == nil {
		return nil
	}
	r.addImageLocked(runtime.Image{RepoTags: []string{tag}, Size: 1 << 20})
	return nil
}

// PullAuth is the credential of the last pull of ref that had one.
func (r *Runtime) PullAuth(ref string) (runtime.RegistryAuth, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.pullAuth[normalizeRef(ref)]
	return a, ok
}

// ImportImage reads rootfs as a tarball and creates image ref from it.
// Changes may set ENTRYPOINT and CMD (JSON or shell form); ENV, WORKDIR,
// USER, LABEL, EXPOSE, VOLUME, ONBUILD and HEALTHCHECK are accepted and
// dropped; anything else (STOPSIGNAL too) is refused, as Docker 20.10 does.
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error {
	op := "import image " + ref
	r.mu.Lock()
	err := r.recordLocked("ImportImage", ref)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	img := runtime.Image{}
	if ref != "" {
		img.RepoTags = []string{ref}
	}
	for _, change := range changes {
		if err := applyChange(&img, change); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	h := sha256.New()
	var raw bytes.Buffer
	size, err := readTar(io.TeeReader(io.TeeReader(rootfs, h), &raw))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	img.Size = size
	for _, c := range changes {
		h.Write([]byte(c))
	}
	img.ID = "sha256:" + hex.EncodeToString(h.Sum(nil))

	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.addImageLocked(img)
	r.images[id].rootfs = raw.Bytes()
	return nil
}

// readTar reads a whole tarball and returns the size of its files.
func readTar(rd io.Reader) (int64, error) {
	tr := tar.NewReader(rd)
	var size int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return size, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read rootfs tarball: %w", err)
		}
		size += hdr.Size
	}
}

// applyChange applies one Dockerfile-like instruction to img.
func applyChange(img *runtime.Image, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToUpper(instr) {
	case "ENTRYPOINT":
		img.Entrypoint = commandOf(arg)
	case "CMD":
		img.Cmd = commandOf(arg)
	case "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "ONBUILD", "HEALTHCHECK":
	default:
		return fmt.Errorf("change %q: %s is not a valid change command", change, instr)
	}
	return nil
}

// commandOf reads the JSON form (["a", "b"]) or the shell form (a b, run by
// /bin/sh -c) of ENTRYPOINT and CMD.
func commandOf(arg string) []string {
	var argv []string
	if err := json.Unmarshal([]byte(arg), &argv); err == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", arg}
}

// RemoveImage removes image id. By tag it removes that tag, and the image
// with its last tag; by ID the image with all its tags. An image a
// container (in any state) uses is runtime.ErrConflict.
func (r *Runtime) RemoveImage(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := "remove image " + id
	if err := r.recordLocked("RemoveImage", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	img, err := r.findImageLocked(id)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tag := normalizeRef(id)
	if slices.Contains(img.RepoTags, tag) && len(img.RepoTags) > 1 {
		r.untagLocked(tag)
		return nil
	}
	for _, c := range r.containers {
		if c.ImageID == img.ID {
			return fmt.Errorf("%s: %w: image is used by container %s", op, runtime.ErrConflict, c.ID)
		}
	}
	delete(r.images, img.ID)
	return nil
}
