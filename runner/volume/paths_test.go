package volume

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestCheckUID(t *testing.T) {
	for _, tc := range []struct {
		uid types.UID
		ok  bool
	}{
		{"0f2b9c4e-1d2a-4c1b-9f3e-5a6b7c8d9e0f", true},
		{"etcd-pinned_1.2:x", true},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a/b", false},
		{"../../etc", false},
		{"a\\b", false},
		{"a b", false},
		{"a\x00b", false},
		{"tab\tx", false},
		{"é", false},
		{types.UID(strings.Repeat("a", 255)), true},
		{types.UID(strings.Repeat("a", 256)), false},
	} {
		err := CheckUID(tc.uid)
		if (err == nil) != tc.ok {
			t.Errorf("CheckUID(%q) = %v, want ok=%v", tc.uid, err, tc.ok)
		}
	}
}

func TestCheckSubPath(t *testing.T) {
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{"a", true}, {"a/b/c", true}, {"a/./b", true}, {".", true}, {"..a/b", true}, {"a..", true},
		{"/etc", false}, {"..", false}, {"a/../b", false}, {"a/..", false}, {"../x", false}, {"a\x00", false},
	} {
		if err := CheckSubPath(tc.p); (err == nil) != tc.ok {
			t.Errorf("CheckSubPath(%q) = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestCheckItemPath(t *testing.T) {
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{"labels", true}, {"a/b/labels", true}, {"a.b", true},
		{"", false}, {"/labels", false}, {"..data", false}, {"..", false}, {"../x", false},
		{"a/../b", false}, {".", false}, {"./", false}, {"a\x00", false},
		{strings.Repeat("a", 256), false}, {strings.Repeat("a/", 2049), false},
	} {
		if err := CheckItemPath(tc.p); (err == nil) != tc.ok {
			t.Errorf("CheckItemPath(%q) = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestPathsStayUnderRoot(t *testing.T) {
	m := newTestManager(t)
	dir, err := m.PodDir("uid-1")
	if err != nil || dir != m.pods+"/uid-1" {
		t.Fatalf("PodDir = %q, %v", dir, err)
	}
	if p, err := m.ResolvConfPath("uid-1"); err != nil || p != dir+"/resolv.conf" {
		t.Fatalf("ResolvConfPath = %q, %v", p, err)
	}
	if p, err := m.HostsPath("uid-1"); err != nil || p != dir+"/hosts" {
		t.Fatalf("HostsPath = %q, %v", p, err)
	}
	for _, uid := range []types.UID{"..", "../x", "", "a/b", "."} {
		if p, err := m.PodDir(uid); err == nil {
			t.Errorf("PodDir(%q) = %q, want an error", uid, p)
		}
		if _, err := m.HostsPath(uid); err == nil {
			t.Errorf("HostsPath(%q): want an error", uid)
		}
	}
	for _, name := range []string{"..", "a/b", ""} {
		if p, err := m.instanceDir("uid-1", name, 0); err == nil {
			t.Errorf("instanceDir(%q) = %q, want an error", name, p)
		}
	}
	if _, err := m.instanceDir("uid-1", "app", -1); err == nil {
		t.Error("instanceDir with attempt -1: want an error")
	}
	if _, err := m.under(m.pods, ".."); err == nil {
		t.Error("under(pods, ..): want an error")
	}
	if _, err := m.under(m.pods); err == nil {
		t.Error("under(pods) names the pods directory itself: want an error")
	}
}
