package runner

import (
	"slices"
	"strings"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
)

func TestSecurityRunAsNonRoot(t *testing.T) {
	for _, tc := range []struct {
		name, podSC, ctrSC, imageUser string
		wantErr                       string
		wantUser                      string
	}{
		{name: "image user numeric, not root", podSC: "runAsNonRoot: true", imageUser: "1000", wantUser: ""},
		{name: "image user root", podSC: "runAsNonRoot: true", imageUser: "0", wantErr: "image will run as root"},
		{name: "image user unset", podSC: "runAsNonRoot: true", wantErr: "image will run as root"},
		{name: "image user a name", podSC: "runAsNonRoot: true", imageUser: "nobody", wantErr: "non-numeric user (nobody)"},
		{name: "runAsUser 0", ctrSC: "runAsNonRoot: true, runAsUser: 0", imageUser: "1000", wantErr: "runAsUser breaks non-root policy"},
		{name: "runAsUser 1000 over a root image", podSC: "runAsNonRoot: true", ctrSC: "runAsUser: 1000", wantUser: "1000"},
		{name: "container says false", podSC: "runAsNonRoot: true", ctrSC: "runAsNonRoot: false", imageUser: "0"},
		{name: "runAsGroup alone keeps the image's user", ctrSC: "runAsGroup: 3000", imageUser: "app:app", wantUser: "app:3000"},
		{name: "runAsGroup alone, no image user", ctrSC: "runAsGroup: 3000", wantUser: "0:3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n"
			if tc.podSC != "" {
				y += "  securityContext: {" + tc.podSC + "}\n"
			}
			y += "  containers:\n  - name: app\n    image: " + testImage + "\n"
			if tc.ctrSC != "" {
				y += "    securityContext: {" + tc.ctrSC + "}\n"
			}
			pod := loadPod(t, y)
			var s runtime.ContainerSpec
			err := applySecurity(&s, pod, &pod.Spec.Containers[0], tc.imageUser)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
			}
			if tc.wantErr == "" && s.User != tc.wantUser {
				t.Errorf("User = %q, want %q", s.User, tc.wantUser)
			}
		})
	}
}

func TestSecurityLabelsAndProfiles(t *testing.T) {
	pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns
  annotations: {container.apparmor.security.beta.kubernetes.io/b: localhost/my-profile}
spec:
  securityContext:
    seLinuxOptions: {type: spc_t, level: "s0:c1,c2"}
  containers:
  - name: a
    image: runner.local/busybox:test
    securityContext:
      seLinuxOptions: {user: system_u, role: system_r, type: container_t}
      appArmorProfile: {type: Unconfined}
  - name: b
    image: runner.local/busybox:test
`)
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"a", []string{"apparmor=unconfined", "label=role:system_r", "label=type:container_t", "label=user:system_u"}},
		{"b", []string{"apparmor=my-profile", "label=level:s0:c1,c2", "label=type:spc_t"}},
	} {
		c, _ := findSpec(pod, tc.name)
		var s runtime.ContainerSpec
		if err := applySecurity(&s, pod, c, ""); err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(s.SecurityOpt)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: SecurityOpt = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSecurityNonRootRefusedAtStart: a container that would run as root
// against its runAsNonRoot is not created; its status says why.
func TestSecurityNonRootRefusedAtStart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime() // the test image has no USER: root
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - {name: app, image: runner.local/busybox:test}\n")
		h.send(pod)
		waitFor(t, "CreateContainerConfigError", func() bool {
			st := h.status(pod)
			if st == nil || len(st.Status.ContainerStatuses) == 0 {
				return false
			}
			w := st.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == "CreateContainerConfigError" && strings.Contains(w.Message, "image will run as root")
		})
		if _, ok := latestOf(t, rt, pod, "app"); ok {
			t.Error("the container was created")
		}
	})
}
