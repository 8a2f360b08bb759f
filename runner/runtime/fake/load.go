package fake

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/runner-dev/runner/runner/runtime"
)

// maxSaveJSON bounds each JSON file of a tarball the fake keeps to read.
const maxSaveJSON = 1 << 20

// saveManifest is one entry of a `docker save` tarball's manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// saveConfig is the part of an image config the fake keeps.
type saveConfig struct {
	Config struct {
		Entrypoint []string
		Cmd        []string
		StopSignal string
	} `json:"config"`
}

// LoadImage reads a `docker save` tarball (manifest.json and the image
// configs it names; layers are read and dropped) and creates its images,
// as Docker does: the image ID is the digest of its config, its tags move
// to it. It returns the tags, or the ID of an untagged image. A tarball
// with no manifest.json, or naming a config it lacks, is an error.
func (r *Runtime) LoadImage(ctx context.Context, tarball io.Reader) ([]string, error) {
	op := "load image tarball"
	r.mu.Lock()
	err := r.recordLocked("LoadImage", "")
	r.mu.Unlock()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(tarball)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(name, ".json") || hdr.Size > maxSaveJSON {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		files[name] = data
	}
	var manifests []saveManifest
	data, ok := files["manifest.json"]
	if !ok {
		return nil, fmt.Errorf("%s: no manifest.json: not a docker save tarball", op)
	}
	if err := json.Unmarshal(data, &manifests); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", op, err)
	}
	var refs []string
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range manifests {
		raw, ok := files[path.Clean(m.Config)]
		if !ok {
			return refs, fmt.Errorf("%s: config %s is not in the tarball", op, m.Config)
		}
		var cfg saveConfig
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return refs, fmt.Errorf("%s: config %s: %w", op, m.Config, err)
		}
		sum := sha256.Sum256(raw)
		id := "sha256:" + hex.EncodeToString(sum[:])
		r.addImageLocked(runtime.Image{ID: id, RepoTags: m.RepoTags, Size: int64(len(raw)),
			Entrypoint: cfg.Config.Entrypoint, Cmd: cfg.Config.Cmd, StopSignal: cfg.Config.StopSignal})
		if len(m.RepoTags) == 0 {
			refs = append(refs, id)
		}
		for _, t := range m.RepoTags {
			refs = append(refs, normalizeRef(t))
		}
	}
	return refs, nil
}
