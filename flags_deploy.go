package main

import "github.com/urfave/cli/v2"

// deployFlags are the flags of installing and running runner on a box:
// --config and --max-pods (flags_config.go). newApp adds them to the
// daemon's flags.
func deployFlags() []cli.Flag {
	return configFlags()
}
