package gc

// Benchmarks of the pure policies at the sizes of the GC phase of make
// bench: 200 dead containers of 20 pods, 50 images.

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

func BenchmarkPlanContainers(b *testing.B) {
	var list []runtime.Container
	for p := range 20 {
		uid := fmt.Sprintf("pod-%02d", p)
		list = append(list, sb(uid, 0, runtime.StateExited, time.Hour))
		list = append(list, crashLoop(uid, 9)...)
	}
	pods := desired()
	for p := range 10 { // half of them are gone
		pods.Desired[types.UID(fmt.Sprintf("pod-%02d", p))] = true
	}
	b.ResetTimer()
	for b.Loop() {
		if n := len(PlanContainers(list, testInstance, pods, DefaultContainerPolicy, t0)); n == 0 {
			b.Fatal("nothing to remove")
		}
	}
}

func BenchmarkPlanImages(b *testing.B) {
	var images []ImageState
	for i := range 50 {
		images = append(images, img(fmt.Sprintf("%02d", i), 1000, time.Hour, time.Duration(i)*time.Minute))
	}
	usage := FSUsage{Capacity: 100000, Available: 5000}
	b.ResetTimer()
	for b.Loop() {
		if p := PlanImages(images, usage, DefaultImagePolicy, t0); len(p.Remove) == 0 {
			b.Fatal("nothing to remove")
		}
	}
}
