package fsutil

import (
	"errors"
	"os"
	"testing"
)

func TestStatfs(t *testing.T) {
	s, err := Statfs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Capacity <= 0 || s.Available < 0 || s.Available > s.Capacity {
		t.Errorf("implausible bytes: %+v", s)
	}
	if s.InodesFree > s.Inodes {
		t.Errorf("more free inodes than inodes: %+v", s)
	}
	if _, err := Statfs("/nonexistent/runner-statfs"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: got %v, want ErrNotExist", err)
	}
}
