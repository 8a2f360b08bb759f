package docker

import (
	"errors"
	"strings"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
)

func TestDrainProgress(t *testing.T) {
	for _, tc := range []struct {
		stream   string
		wantErr  string
		notFound bool
	}{
		{`{"status":"Pulling"}` + "\n" + `{"status":"Done"}`, "", false},
		{`{"status":"sha256:abc"}`, "", false},
		{`{"status":"x"}{"errorDetail":{"message":"manifest for a:1 not found: manifest unknown"},"error":"manifest for a:1 not found"}`, "manifest for a:1 not found", true},
		{`{"error":"unauthorized: authentication required"}`, "unauthorized", false},
		{`{"status":`, "read progress", false},
	} {
		err := drainProgress(strings.NewReader(tc.stream))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("drainProgress(%s) = %v, want nil", tc.stream, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, runtime.ErrNotFound) != tc.notFound {
			t.Errorf("drainProgress(%s) = %v, want %q (not found: %v)", tc.stream, err, tc.wantErr, tc.notFound)
		}
	}
}

func TestIsImageID(t *testing.T) {
	id := "sha256:0123456789abcdef"
	for ref, want := range map[string]bool{
		"sha256:0123456789abcdef": true, "0123456789abcdef": true, "0123": true,
		"busybox:1": false, "": false, "sha256:": false, "4567": false,
	} {
		if got := isImageID(ref, id); got != want {
			t.Errorf("isImageID(%q) = %v, want %v", ref, got, want)
		}
	}
}
