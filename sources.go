package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/manifest/source"
)

// urlFlags are the flags of the HTTP manifest source: newApp adds them to
// the daemon's flags.
func urlFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "manifest-url", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL"},
			Usage: "URL of manifests to run beside --manifest-dir (a Pod, a PodList or several YAML documents; an empty body or list runs none), polled every --http-check-frequency; failures keep its pods, and its last good body under --root-dir runs after a restart while it cannot be reached"},
		&cli.DurationFlag{Name: "http-check-frequency", Category: "Manifests", EnvVars: []string{"RUNNER_HTTP_CHECK_FREQUENCY"}, Value: source.DefaultHTTPInterval,
			Usage: "how often --manifest-url is polled (with ETag / If-Modified-Since: an unchanged URL costs a 304)"},
	}, urlClientFlags()...)
}

// urlClientFlags say how to reach a manifest URL: the daemon's
// --manifest-url and `runner validate https://...` share them.
func urlClientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "manifest-url-header", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL_HEADER"},
			Usage: "HTTP header sent to the manifest URL, Key:Value; repeat it, or give several as a:hello,b:again"},
		&cli.StringFlag{Name: "manifest-url-ca", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL_CA"},
			Usage: "PEM file of CA certificates trusted for the manifest URL, besides the system's"},
		&cli.StringFlag{Name: "manifest-url-client-cert", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL_CLIENT_CERT"},
			Usage: "PEM client certificate presented to the manifest URL (with --manifest-url-client-key)"},
		&cli.StringFlag{Name: "manifest-url-client-key", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL_CLIENT_KEY"},
			Usage: "PEM key of --manifest-url-client-cert"},
		&cli.DurationFlag{Name: "manifest-url-timeout", Category: "Manifests", EnvVars: []string{"RUNNER_MANIFEST_URL_TIMEOUT"}, Value: source.DefaultHTTPTimeout,
			Usage: "bound on one request to the manifest URL, body included (bodies are capped at 10 MiB)"},
	}
}

// urlConfig is the HTTP source's configuration from the flags, for url.
func urlConfig(c *cli.Context, url string, log *slog.Logger) (source.HTTPConfig, error) {
	header, err := source.ParseHeaders(c.StringSlice("manifest-url-header"))
	if err != nil {
		return source.HTTPConfig{}, fmt.Errorf("--manifest-url-header: %w", err)
	}
	opts := manifestOptions(c)
	opts.Source = manifest.SourceHTTP
	return source.HTTPConfig{
		URL:      url,
		Header:   header,
		Timeout:  c.Duration("manifest-url-timeout"),
		CAFile:   c.String("manifest-url-ca"),
		CertFile: c.String("manifest-url-client-cert"),
		KeyFile:  c.String("manifest-url-client-key"),
		Options:  opts,
		Logger:   log,
	}, nil
}

// manifestSources unites what the reconcile loop reads: file, the source
// of --manifest-dir (nil when it is set to ""), and with --manifest-url the
// HTTP source, into one stream of snapshots. daemon calls it; its Run (or
// Once(), for --runonce) replaces the file source's.
func manifestSources(c *cli.Context, log *slog.Logger, file *source.File) (*source.Merge, error) {
	var sources []source.Source
	if c.String("manifest-dir") != "" {
		sources = append(sources, file)
	}
	if url := c.String("manifest-url"); url != "" {
		if c.Duration("http-check-frequency") < time.Second {
			return nil, errors.New("--http-check-frequency: at least 1s")
		}
		cfg, err := urlConfig(c, url, log)
		if err != nil {
			return nil, err
		}
		cfg.Interval = c.Duration("http-check-frequency")
		cfg.RootDir = c.String("root-dir")
		h, err := source.NewHTTP(cfg)
		if err != nil {
			return nil, fmt.Errorf("--manifest-url: %w", err)
		}
		sources = append(sources, h)
	}
	if len(sources) == 0 {
		return nil, errors.New("no manifests to run: give --manifest-dir or --manifest-url")
	}
	return source.NewMerge(source.MergeConfig{Sources: sources, Logger: log}), nil
}

// isURL says whether a `runner validate` argument is a URL.
func isURL(arg string) bool {
	return strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://")
}
