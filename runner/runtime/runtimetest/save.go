package runtimetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"sort"
	"time"
)

// WriteSaveTarball writes to w a `docker save` tarball (the layout Docker
// 20.10 writes and loads) of one image tagged ref: one layer holding files
// (path → content, mode 0755), and a config with cmd and PATH=/bin. The
// image ID is the digest of the config; it is returned. Tests of LoadImage
// and of --image-dir use it: no registry is needed to make an image.
func WriteSaveTarball(w io.Writer, ref string, cmd []string, files map[string]string) (string, error) {
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := files[name]
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := lw.WriteHeader(hdr); err != nil {
			return "", err
		}
		if _, err := io.WriteString(lw, body); err != nil {
			return "", err
		}
	}
	if err := lw.Close(); err != nil {
		return "", err
	}
	diffID := sha256.Sum256(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": goruntime.GOARCH,
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC().Format(time.RFC3339),
		"config":       map[string]any{"Cmd": cmd, "Env": []string{"PATH=/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	if err != nil {
		return "", err
	}
	configSum := sha256.Sum256(config)
	id := hex.EncodeToString(configSum[:])
	layerDir := hex.EncodeToString(diffID[:])
	manifest, err := json.Marshal([]map[string]any{{
		"Config": id + ".json", "RepoTags": []string{ref}, "Layers": []string{layerDir + "/layer.tar"},
	}})
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{layerDir + "/layer.tar", layer.Bytes()},
		{id + ".json", config},
		{"manifest.json", manifest},
	} {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("write tarball: %w", err)
	}
	return "sha256:" + id, nil
}
