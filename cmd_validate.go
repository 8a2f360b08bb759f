package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/manifest"
)

// validateCommand is `runner validate`: it checks manifests as the daemon
// reads them and prints what it found.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check manifest files or directories as runner would read them",
		ArgsUsage: "PATH...",
		Description: `Prints one "file:line: field: message" line per problem, then a summary.
Exits 0 when every manifest is valid, 1 otherwise. Directories are read as the
daemon reads --manifest-dir: only *.yaml, *.yml and *.json files.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"},
			&cli.StringFlag{Name: "node-name", Aliases: []string{"hostname-override"}, EnvVars: []string{"RUNNER_NODE_NAME"},
				Value: defaultNodeName(), Usage: "node name used to name the pods"},
		},
		Action: func(c *cli.Context) error {
			if !c.Args().Present() {
				return cli.Exit("validate needs at least one PATH (see runner validate --help)", exitUsage)
			}
			reports := manifest.Check(c.Args().Slice(), manifestOptions(c))
			bad := 0
			files := 0
			for _, r := range reports {
				if r.Ignored == "" {
					files++
				}
				if len(r.Problems) > 0 {
					bad++
				}
			}
			switch c.String("output") {
			case "json":
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Files   []manifest.FileReport `json:"files"`
					Valid   int                   `json:"valid"`
					Invalid int                   `json:"invalid"`
				}{reports, files - bad, bad}); err != nil {
					return cli.Exit(err, exitUsage)
				}
			case "text":
				for _, r := range reports {
					for _, p := range r.Problems {
						fmt.Fprintln(c.App.Writer, p.String())
					}
				}
				fmt.Fprintf(c.App.Writer, "%d file(s) checked: %d valid, %d invalid\n", files, files-bad, bad)
			default:
				return cli.Exit(fmt.Sprintf("--output %q: must be text or json", c.String("output")), exitUsage)
			}
			if bad > 0 {
				return cli.Exit("", exitFail)
			}
			return nil
		},
	}
}
