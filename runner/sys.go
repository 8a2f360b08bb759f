package runner

import (
	"os"
	"strconv"
	"strings"
)

// oomScoreFloor is the lowest oom_score_adj this process may give its
// children: without CAP_SYS_RESOURCE (as in some containers and sandboxes)
// the kernel refuses a value below our own, and the container would fail to
// start, so such values are raised to our own.
func oomScoreFloor() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1000
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			const capSysResource = 24
			if err == nil && caps&(1<<capSysResource) != 0 {
				return -1000
			}
		}
	}
	own, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(own)))
	if err != nil {
		return 0
	}
	return n
}
