//go:build !pausebin

package pause

// Binary is nil in a plain `go build`: the sandbox image is then made of the
// runner executable itself (Invoked/Main) with, when cgo linked it
// dynamically, its loader and libraries (WriteRootfs). That works
// everywhere but costs each pod the resident memory of the whole runner
// binary; `make build` embeds the small program of ./cmd/pause instead.
var Binary []byte

// Version tags the sandbox image made from the runner executable.
const Version = "1.1-runner"
