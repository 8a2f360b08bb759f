// Command pause is the program of runner's sandbox image on its own: a few
// hundred KiB of static binary that holds a pod's namespaces open. `make
// build` compiles it and embeds it in runner (build tag pausebin).
package main

import "github.com/runner-dev/runner/runner/pause"

func main() { pause.Main() }
