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
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

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

// PullImage pulls ref (":latest" when untagged) with opts.Auth and waits
// for the pull to finish, at most ten minutes, reporting its progress to
// opts.Progress. A reference the registry does not know is
// runtime.ErrNotFound when the engine says so; an unreachable registry is
// an error naming it.
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	op := "pull image " + ref
	auth, err := encodeAuth(opts.Auth)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	body, err := r.client.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: auth})
	if err != nil {
		return wrap(op, err)
	}
	defer body.Close()
	var note func(*jsonmessage.JSONMessage)
	if opts.Progress != nil {
		t := newPullTracker()
		note = func(m *jsonmessage.JSONMessage) {
			if t.note(m) {
				opts.Progress(t.progress())
			}
		}
	}
	if err := readProgress(body, note); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// encodeAuth encodes a credential as the engine's X-Registry-Auth header
// takes it (base64url of its JSON); nil is anonymous ("").
func encodeAuth(a *runtime.RegistryAuth) (string, error) {
	if a == nil {
		return "", nil
	}
	return registry.EncodeAuthConfig(registry.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		IdentityToken: a.IdentityToken,
		ServerAddress: a.ServerAddress,
	})
}

// LoadImage loads a `docker save` tarball, at most ten minutes, and returns
// the references the engine says it loaded.
func (r *Runtime) LoadImage(ctx context.Context, tarball io.Reader) ([]string, error) {
	op := "load image tarball"
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	resp, err := r.client.ImageLoad(ctx, tarball, client.ImageLoadWithQuiet(true))
	if err != nil {
		return nil, wrap(op, err)
	}
	defer resp.Body.Close()
	var refs []string
	note := func(m *jsonmessage.JSONMessage) {
		if ref, ok := loadedRef(m.Stream); ok {
			refs = append(refs, ref)
		}
	}
	if !resp.JSON {
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			note(&jsonmessage.JSONMessage{Stream: line})
		}
		return refs, nil
	}
	if err := readProgress(resp.Body, note); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return refs, nil
}

// loadedRef reads the reference out of a line of the engine's load
// output: "Loaded image: busybox:1.36" or "Loaded image ID: sha256:...".
func loadedRef(line string) (string, bool) {
	line = strings.TrimSpace(line)
	for _, prefix := range []string{"Loaded image ID: ", "Loaded image: "} {
		if ref, ok := strings.CutPrefix(line, prefix); ok && ref != "" {
			return ref, true
		}
	}
	return "", false
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

// drainProgress reads a progress stream to its end; see readProgress.
func drainProgress(body io.Reader) error { return readProgress(body, nil) }

// readProgress reads a pull, import or load progress stream (the Docker
// SDK's JSON messages) to its end, hands each message to note (when not
// nil) and returns the first error the engine reported in it. A "not
// found" or "manifest unknown" error is runtime.ErrNotFound.
func readProgress(body io.Reader, note func(*jsonmessage.JSONMessage)) error {
	dec := json.NewDecoder(body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		msg := m.ErrorMessage //nolint:staticcheck // older engines set only this
		if m.Error != nil && m.Error.Message != "" {
			msg = m.Error.Message
		}
		if msg == "" {
			if note != nil {
				note(&m)
			}
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
