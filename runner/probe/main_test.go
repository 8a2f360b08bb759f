package probe

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// handler's connection, a gRPC client, a worker.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
