package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/manifest/source"
)

// validateCommand is `runner validate`: it checks manifests as the daemon
// reads them and prints what it found.
func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check manifest files, directories or URLs as runner would read them",
		ArgsUsage: "PATH|URL...",
		Description: `Prints one "file:line: field: message" line per problem, one "file: ignored: why"
line per file of a directory that is not read, then a summary. Exits 0 when every
manifest is valid, 1 otherwise. Directories are read as the daemon reads
--manifest-dir: only regular *.yaml, *.yml, *.json and *.manifest files that are not
hidden; named pipes, sockets and devices are never opened. An empty file is a problem;
so is a pod (namespace/name) defined in two files, which runner would run only once.
An http:// or https:// argument is fetched once as --manifest-url is (with the
--manifest-url-* flags below); a 200 answer with an empty body or list is valid and
runs no pod.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"},
			&cli.StringFlag{Name: "node-name", Aliases: []string{"hostname-override"}, EnvVars: []string{"RUNNER_NODE_NAME"},
				Value: defaultNodeName(), Usage: "node name used to name the pods"},
		}, urlClientFlags()...),
		Action: validate,
	}
}

// validateReport is what `runner validate --output json` prints.
type validateReport struct {
	Files   []manifest.FileReport `json:"files"`
	Valid   int                   `json:"valid"`
	Invalid int                   `json:"invalid"`
	Ignored int                   `json:"ignored"`
}

func validate(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.Exit("validate needs at least one PATH (see runner validate --help)", exitUsage)
	}
	format := c.String("output")
	if format != "text" && format != "json" {
		return cli.Exit(fmt.Sprintf("--output %q: must be text or json", format), exitUsage)
	}
	opts := manifestOptions(c)
	var reports []manifest.FileReport
	for _, arg := range c.Args().Slice() {
		if !isURL(arg) {
			reports = append(reports, manifest.CheckPath(arg, opts)...)
			continue
		}
		cfg, err := urlConfig(c, arg, nil)
		if err != nil {
			return cli.Exit(err, exitUsage)
		}
		reports = append(reports, source.CheckURL(c.Context, cfg))
	}
	reports = manifest.MarkConflicts(reports)

	sum := validateReport{Files: reports}
	for _, r := range reports {
		switch {
		case r.Ignored != "":
			sum.Ignored++
		case len(r.Problems) > 0:
			sum.Invalid++
		default:
			sum.Valid++
		}
	}
	var err error
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		err = enc.Encode(sum)
	} else {
		err = printValidateText(c.App.Writer, sum)
	}
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	if sum.Invalid > 0 {
		return cli.Exit("", exitFail)
	}
	return nil
}

// printValidateText prints the problems and ignored files in the order
// they were found, then the summary.
func printValidateText(w io.Writer, sum validateReport) error {
	for _, r := range sum.Files {
		if r.Ignored != "" {
			if _, err := fmt.Fprintf(w, "%s: ignored: %s\n", r.File, r.Ignored); err != nil {
				return err
			}
		}
		for _, p := range r.Problems {
			if _, err := fmt.Fprintln(w, p.String()); err != nil {
				return err
			}
		}
	}
	line := fmt.Sprintf("%d file(s) checked: %d valid, %d invalid", sum.Valid+sum.Invalid, sum.Valid, sum.Invalid)
	if sum.Ignored > 0 {
		line += fmt.Sprintf("; %d ignored", sum.Ignored)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
