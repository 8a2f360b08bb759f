package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goBenchPattern selects the benchmarks of the pure parts (runner/,
// manifest/, manifest/source/, gc/ and eviction/ bench_test.go files).
const goBenchPattern = `^Benchmark(Plan|Dispatch|Relist|ApplySnapshot|LoadEtcd|ValidateEtcd|LoadConformance|SameSnapshot|KeepUnchanged|Rescan|WriteToSnapshot|URLChangeToSnapshot|URLPollUnchanged|PlanContainers|PlanImages|MonitorSignals|EvictionDecision)$`

var goBenchPackages = []string{"./runner", "./manifest", "./manifest/source", "./gc", "./eviction"}

// goBench is one benchmark's result: ns/op and its other metrics by unit.
type goBench struct {
	name    string // without the -GOMAXPROCS suffix
	nsPerOp float64
	metrics map[string]float64
}

// runGoBenchmarks runs the Go benchmarks in the module at repo and returns
// their output.
func runGoBenchmarks(ctx context.Context, goCmd, repo, benchtime string) (string, error) {
	args := append([]string{"test", "-run", "^$", "-bench", goBenchPattern, "-benchmem", "-benchtime", benchtime, "-count", "1"}, goBenchPackages...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = repo
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// parseGoBench reads `go test -bench` output lines such as
// "BenchmarkPlan/steady/pods=10-2  6751  44992 ns/op  4499 ns/pod  4640 B/op  60 allocs/op".
func parseGoBench(out string) []goBench {
	var res []goBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := goBench{name: name, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.metrics[f[i+1]] = v
		}
		b.nsPerOp = b.metrics["ns/op"]
		res = append(res, b)
	}
	return res
}
