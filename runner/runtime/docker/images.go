package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/runner-dev/runner/runner/runtime"
)

// InspectImage returns image ref (a reference or an ID) with the parts of its
// config the kubelet's command rules need. Absent is runtime.ErrNotFound.
func (r *Runtime) InspectImage(ctx context.Context, ref string) (runtime.Image, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	info, err := r.client.ImageInspect(ctx, ref)
	if err != nil {
		return runtime.Image{}, wrap("inspect image "+ref, err)
	}
	img := runtime.Image{
		ID:        info.ID,
		RepoTags:  realTags(info.RepoTags),
		Size:      info.Size,
		CreatedAt: parseTime(info.Created),
	}
	if info.Config != nil {
		img.Entrypoint = info.Config.Entrypoint
		img.Cmd = info.Config.Cmd
		img.StopSignal = info.Config.StopSignal
		img.User = info.Config.User
	}
	return img, nil
}

// ListImages lists the engine's images (not intermediate layers). Entrypoint,
// Cmd and StopSignal are left empty: InspectImage reads them.
func (r *Runtime) ListImages(ctx context.Context) ([]runtime.Image, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	list, err := r.client.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, wrap("list images", err)
	}
	out := make([]runtime.Image, 0, len(list))
	for _, s := range list {
		out = append(out, runtime.Image{
			ID:        s.ID,
			RepoTags:  realTags(s.RepoTags),
			Size:      s.Size,
			CreatedAt: time.Unix(s.Created, 0),
		})
	}
	return out, nil
}

// realTags drops the "<none>:<none>" placeholder of untagged images.
func realTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t != "<none>:<none>" {
			out = append(out, t)
		}
	}
	return out
}

// PullImage pulls ref (":latest" when untagged) and waits for the pull to
// finish, at most ten minutes. A reference the registry does not know is
// runtime.ErrNotFound when the engine says so; an unreachable registry is an
// error naming it.
func (r *Runtime) PullImage(ctx context.Context, ref string) error {
	op := "pull image " + ref
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	body, err := r.client.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return wrap(op, err)
	}
	defer body.Close()
	if err := drainProgress(body); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ImportImage creates image ref from a root file system tarball with
// Dockerfile-like changes, at most ten minutes.
func (r *Runtime) ImportImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error {
	op := "import image " + ref
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	src := image.ImportSource{Source: rootfs, SourceName: "-"}
	body, err := r.client.ImageImport(ctx, src, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		return wrap(op, err)
	}
	defer body.Close()
	if err := drainProgress(body); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// progress is one message of the engine's JSON progress stream.
type progress struct {
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// drainProgress reads a pull or import progress stream to its end and
// returns the first error the engine reported in it. A "not found" or
// "manifest unknown" error is runtime.ErrNotFound.
func drainProgress(body io.Reader) error {
	dec := json.NewDecoder(body)
	for {
		var p progress
		if err := dec.Decode(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		msg := p.Error
		if msg == "" && p.ErrorDetail != nil {
			msg = p.ErrorDetail.Message
		}
		if msg == "" {
			continue
		}
		lower := strings.ToLower(msg)
		if strings.Contains(lower, "not found") || strings.Contains(lower, "manifest unknown") {
			return fmt.Errorf("%w: %s", runtime.ErrNotFound, msg)
		}
		return errors.New(msg)
	}
}

// RemoveImage removes image id (an ID or a reference) and its untagged
// parents. Given an ID of an image with several tags, it removes every tag,
// which removes the image; the engine alone would refuse without force. An
// image a container uses is runtime.ErrConflict, an absent one
// runtime.ErrNotFound.
func (r *Runtime) RemoveImage(ctx context.Context, id string) error {
	op := "remove image " + id
	info, err := r.InspectImage(ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	refs := []string{id}
	if len(info.RepoTags) > 1 && isImageID(id, info.ID) {
		refs = append(info.RepoTags, id)
	}
	for _, ref := range refs {
		if err := r.removeImageRef(ctx, ref); err != nil {
			if ref == id && isNotFound(err) && len(refs) > 1 {
				return nil // the last tag took the image with it
			}
			return wrap(op, err)
		}
	}
	return nil
}

// removeImageRef is one ImageRemove call without force.
func (r *Runtime) removeImageRef(ctx context.Context, ref string) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	_, err := r.client.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	return err
}

// isImageID reports whether ref names the image by (a prefix of) its ID.
func isImageID(ref, id string) bool {
	hex := strings.TrimPrefix(id, "sha256:")
	ref = strings.TrimPrefix(ref, "sha256:")
	return ref != "" && strings.HasPrefix(hex, ref)
}
