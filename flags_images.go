package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/runner/images"
	"github.com/runner-dev/runner/runner/runtime"
)

// imageFlags say where images come from besides the engine: the image
// dir's tarballs and registries (with the kubelet's bounds on pulls).
func imageFlags() []cli.Flag {
	const cat = "Images"
	return []cli.Flag{
		&cli.StringFlag{Name: "image-dir", Category: cat, EnvVars: []string{"RUNNER_IMAGE_DIR"},
			Usage: "directory of docker save tarballs (.tar, .tar.gz, .tar.zst) loaded into Docker at start and when added, for boxes with no registry; a pod waiting for such an image starts once it is loaded (default <root-dir>/images)"},
		&cli.StringFlag{Name: "image-credential-file", Category: cat, EnvVars: []string{"RUNNER_IMAGE_CREDENTIAL_FILE"}, Value: defaultCredentialFile(),
			Usage: "Docker config.json with registry credentials (what docker login writes; its credHelpers and credsStore are run), read at each pull"},
		&cli.BoolFlag{Name: "serialize-image-pulls", Category: cat, EnvVars: []string{"RUNNER_SERIALIZE_IMAGE_PULLS"}, Value: true,
			Usage: "pull one image at a time, as the kubelet does by default"},
		&cli.IntFlag{Name: "max-parallel-image-pulls", Category: cat, EnvVars: []string{"RUNNER_MAX_PARALLEL_IMAGE_PULLS"},
			Usage: "with --serialize-image-pulls=false: pulls at once at most (0: no bound)"},
		&cli.Float64Flag{Name: "registry-qps", Category: cat, EnvVars: []string{"RUNNER_REGISTRY_QPS"}, Value: 5,
			Usage: "pulls started per second at most, beyond --registry-burst (0: no bound); a pull past it waits its turn"},
		&cli.IntFlag{Name: "registry-burst", Category: cat, EnvVars: []string{"RUNNER_REGISTRY_BURST"}, Value: 10,
			Usage: "pulls started at once at most with --registry-qps"},
	}
}

// defaultCredentialFile is the running user's ~/.docker/config.json (root's
// under systemd).
func defaultCredentialFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// imageService is how the daemon gets images: the engine wrapped by
// images.Runtime, and the image dir it looks in.
type imageService struct {
	runtime *images.Runtime
	dir     *images.Dir
	// loaded is told what the dir loaded; set by run before the dir runs.
	loaded func(refs []string)
}

// newImageService wraps engine with the image dir, the credentials and
// the pull limits of the flags. daemon and `runner pull` call it.
func newImageService(c *cli.Context, log *slog.Logger, engine runtime.Runtime) (*imageService, error) {
	s := &imageService{}
	path := c.String("image-dir")
	if path == "" {
		path = filepath.Join(c.String("root-dir"), "images")
	}
	s.dir = images.NewDir(images.DirConfig{Path: path, Runtime: engine, Logger: log, OnLoaded: func(refs []string) {
		if s.loaded != nil {
			s.loaded(refs)
		}
	}})
	rt, err := images.New(images.Config{
		Runtime:     engine,
		Credentials: images.Credentials{Path: c.String("image-credential-file")},
		Limits: images.Limits{
			Serialize:   c.Bool("serialize-image-pulls"),
			MaxParallel: c.Int("max-parallel-image-pulls"),
			QPS:         c.Float64("registry-qps"),
			Burst:       c.Int("registry-burst"),
		},
		Dir:    s.dir,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s.runtime = rt
	return s, nil
}

// run watches the image dir until ctx ends, telling loaded (the loop's
// ImagesLoaded) of each tarball loaded, with a context that stop ends;
// stop waits for the watcher.
func (s *imageService) run(ctx context.Context, log *slog.Logger, loaded func(ctx context.Context, refs []string)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	s.loaded = func(refs []string) { loaded(ctx, refs) }
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.dir.Run(ctx); err != nil {
			log.Error("image dir not watched", "error", err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
