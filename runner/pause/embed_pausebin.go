//go:build pausebin

package pause

import _ "embed"

// Binary is the pause program built by `make build` from ./cmd/pause.
//
//go:embed pause.bin
var Binary []byte

// Version tags the sandbox image made from Binary.
const Version = "1.1"
