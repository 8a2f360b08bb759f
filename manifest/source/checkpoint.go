package source

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/manifest"
)

// checkpointFormat is the version of a checkpoint file's JSON. A file of
// another version (or one that does not parse) is ignored with a warning.
const checkpointFormat = 1

// maxCheckpointSize bounds what is read back: the base64 of the largest
// manifest and a header.
const maxCheckpointSize = manifest.MaxFileSize/3*4 + 64<<10

// CheckpointDir is where a source keeps the last good content of its
// origins: <rootDir>/checkpoints/<source> (source "file" or "http").
func CheckpointDir(rootDir, source string) string {
	return filepath.Join(rootDir, "checkpoints", source)
}

// checkpoint is the last good content of one origin (a manifest file or a
// URL), as read, with what a status and a conditional request need. One
// JSON file per origin.
type checkpoint struct {
	Format int    `json:"format"`
	Origin string `json:"origin"`
	// GoodSince is when runner first read this content successfully.
	GoodSince time.Time `json:"good_since"`
	SHA256    string    `json:"sha256"`
	// ETag and LastModified are the HTTP validators of a URL's body.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Content is nil in memory once the origin was read successfully
	// again (see release); the file keeps it.
	Content []byte `json:"content"`
}

// contentSum is the hex SHA-256 a checkpoint stores of its content.
func contentSum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// checkpoints is the store of one source's checkpoints, in a directory of
// its own. A nil *checkpoints (no --root-dir) keeps nothing. Not safe for
// concurrent use: each source's goroutine owns its store.
type checkpoints struct {
	dir      string
	log      *slog.Logger
	byOrigin map[string]*checkpoint
	writeErr string // the last failure logged, so a full disk is logged once
}

// openCheckpoints reads every checkpoint in dir. A checkpoint that cannot
// be read, does not parse or whose content does not match its sum is
// ignored with a warning; a missing dir holds none. Returns nil when dir is
// empty. Called by a source's Run, on its goroutine.
func openCheckpoints(dir string, log *slog.Logger) *checkpoints {
	if dir == "" {
		return nil
	}
	c := &checkpoints{dir: dir, log: log, byOrigin: map[string]*checkpoint{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot read checkpoints; starting without them", "dir", dir, "err", err)
		}
		return c
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			_ = os.Remove(p) // a write cut short by a crash
			continue
		}
		if !strings.HasSuffix(name, ".json") || !e.Type().IsRegular() {
			continue
		}
		cp, err := readCheckpoint(p)
		if err != nil {
			log.Warn("ignoring a checkpoint that cannot be used (written by another version of runner?)", "checkpoint", p, "err", err)
			continue
		}
		if name != checkpointName(cp.Origin) {
			log.Warn("ignoring a checkpoint whose name does not match its origin", "checkpoint", p, "origin", cp.Origin)
			continue
		}
		c.byOrigin[cp.Origin] = cp
	}
	return c
}

func readCheckpoint(path string) (*checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCheckpointSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCheckpointSize {
		return nil, fmt.Errorf("larger than %d bytes", maxCheckpointSize)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	switch {
	case cp.Format != checkpointFormat:
		return nil, fmt.Errorf("format %d, this runner reads format %d", cp.Format, checkpointFormat)
	case cp.Origin == "":
		return nil, errors.New("no origin")
	case cp.SHA256 != contentSum(cp.Content):
		return nil, errors.New("content does not match its sha256")
	}
	return &cp, nil
}

// checkpointName is the file name of origin's checkpoint: its base name
// made safe, for people who look, and a hash of the whole origin.
func checkpointName(origin string) string {
	base := filepath.Base(origin)
	if i := strings.IndexAny(origin, "?#"); i >= 0 && strings.Contains(origin, "://") {
		base = filepath.Base(origin[:i])
	}
	safe := []byte(base)
	for i, b := range safe {
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == '_'
		if !ok {
			safe[i] = '_'
		}
	}
	name := strings.TrimLeft(string(safe), ".")
	if len(name) > 64 {
		name = name[:64]
	}
	sum := sha256.Sum256([]byte(origin))
	return name + "-" + hex.EncodeToString(sum[:8]) + ".json"
}

// get returns origin's checkpoint, or nil.
func (c *checkpoints) get(origin string) *checkpoint {
	if c == nil {
		return nil
	}
	return c.byOrigin[origin]
}

// origins lists the origins with a checkpoint, sorted.
func (c *checkpoints) origins() []string {
	if c == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.byOrigin))
}

// save makes cp (its Format and SHA256 are filled in) origin's checkpoint,
// on disk atomically unless the stored one says the same already. A failure
// is logged once per change of error: the pods run all the same, only a
// restart could not fall back to them.
func (c *checkpoints) save(cp checkpoint) {
	if c == nil {
		return
	}
	cp.Format, cp.SHA256 = checkpointFormat, contentSum(cp.Content)
	if old := c.byOrigin[cp.Origin]; old != nil && old.SHA256 == cp.SHA256 && old.ETag == cp.ETag &&
		old.LastModified == cp.LastModified && old.GoodSince.Equal(cp.GoodSince) {
		return
	}
	c.byOrigin[cp.Origin] = &cp
	err := c.write(&cp)
	switch {
	case err != nil && err.Error() != c.writeErr:
		c.log.Warn("cannot save the last good manifest; runner runs it, but a restart could not fall back to it",
			"origin", cp.Origin, "dir", c.dir, "err", err)
		c.writeErr = err.Error()
	case err == nil && c.writeErr != "":
		c.log.Info("saving the last good manifests works again", "dir", c.dir)
		c.writeErr = ""
	}
}

func (c *checkpoints) write(cp *checkpoint) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", cp.Origin, err)
	}
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", cp.Origin, err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(c.dir, checkpointName(cp.Origin)), data, 0o600); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", cp.Origin, err)
	}
	return nil
}

// release forgets origin's checkpoint content in memory (the file keeps
// it): once the origin was read, its pods are in memory.
func (c *checkpoints) release(origin string) {
	if cp := c.get(origin); cp != nil {
		cp.Content = nil
	}
}

// drop removes origin's checkpoint: the origin is truly gone.
func (c *checkpoints) drop(origin string) {
	if c == nil {
		return
	}
	if _, ok := c.byOrigin[origin]; !ok {
		return
	}
	delete(c.byOrigin, origin)
	if err := os.Remove(filepath.Join(c.dir, checkpointName(origin))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("cannot remove the checkpoint of a removed manifest", "origin", origin, "err", err)
	}
}
