package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Suffixes of the files Dir reads: `docker save` output, plain or
// compressed with gzip or zstd (compression is told by the bytes, the
// suffix only selects the files).
var Suffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"}

// isTarball says whether name is a file Dir reads.
func isTarball(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false // a copy in progress (rsync's .name.XXXX) or hidden
	}
	for _, s := range Suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// savedImage is one image a tarball holds: its ID (the digest of its
// config) and its tags.
type savedImage struct {
	ID   string
	Tags []string
}

// openTarball opens path and returns its uncompressed tar stream; close
// closes the file and the decompressor.
func openTarball(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	}
	return br, func() { f.Close() }, nil
}

// maxManifest bounds the manifest.json read from a tarball.
const maxManifest = 1 << 20

// readSaved lists the images of a `docker save` tarball from its
// manifest.json (Docker's layout and the OCI layout Docker 25 writes both
// have one), reading the stream to it.
func readSaved(r io.Reader) ([]savedImage, error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no manifest.json: not a docker save tarball")
		}
		if err != nil {
			return nil, fmt.Errorf("read tarball: %w", err)
		}
		if path.Clean(hdr.Name) != "manifest.json" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
		if err != nil {
			return nil, fmt.Errorf("read manifest.json: %w", err)
		}
		if len(data) > maxManifest {
			return nil, fmt.Errorf("manifest.json is larger than %d bytes", maxManifest)
		}
		var entries []struct {
			Config   string
			RepoTags []string
		}
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		out := make([]savedImage, 0, len(entries))
		for _, e := range entries {
			// "<hex>.json" (Docker) or "blobs/sha256/<hex>" (OCI).
			hex := strings.TrimSuffix(path.Base(e.Config), ".json")
			out = append(out, savedImage{ID: "sha256:" + hex, Tags: e.RepoTags})
		}
		return out, nil
	}
}
