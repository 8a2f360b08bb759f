# runner's build, run and test entry points. Every target works on a fresh
# Debian machine as root: `make setup` installs Docker, the CNI plugins and
# busybox when missing, starts dockerd and imports the local test image.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := bin/runner
ROOT_DIR ?= /var/lib/runner
# -p 1: the Docker and CNI suites run one at a time (they share one engine).
GOTEST_FLAGS ?= -count=1 -p 1 -timeout 25m

.PHONY: all build setup run test unit fuzz bench vet fmt clean compat compat-check install torture

all: build

# The small static pause program is built first and embedded (tag pausebin)
# as the sandbox image's only file. CGO_ENABLED=0 keeps both static (a plain
# `go build` works too: the sandbox image is then the runner binary itself).
PAUSE_BIN := runner/pause/pause.bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(PAUSE_BIN) ./runner/pause/cmd/pause
	CGO_ENABLED=0 $(GO) build -tags pausebin -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

setup:
	bash testdata/setup.sh

# Install the binary and the systemd unit (deploy/runner.service); DESTDIR
# and PREFIX as usual. Then: systemctl enable --now runner.
PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/runner
	sed 's|/usr/local/bin/runner|$(PREFIX)/bin/runner|' deploy/runner.service > runner.service.tmp
	install -D -m 0644 runner.service.tmp $(DESTDIR)$(SYSTEMD_UNIT_DIR)/runner.service
	rm -f runner.service.tmp
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Run runner in the foreground on the example manifests (Ctrl-C stops runner
# and leaves the pods running).
run: setup build
	./$(BIN) --manifest-dir examples --root-dir $(ROOT_DIR)

# Every test: unit, Docker and CNI end-to-end, and a short fuzz of the parser.
test: setup vet
	$(GO) test $(GOTEST_FLAGS) ./...
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 15s ./manifest

# Unit tests only (no Docker needed).
unit:
	$(GO) test -short $(GOTEST_FLAGS) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 10m ./manifest

# The kubelet as an oracle: compat/ (a module of its own, so that runner does
# not depend on k8s.io/kubernetes) reads the corpus, the fixtures, pinned
# cases and a sweep of every Pod field as runner and as the kubelet 1.37 do,
# prints a summary and every remaining difference, then fuzzes for a while.
# compat-check is the same without the fuzzing (its findings are replayed
# from compat/testdata): what CI runs.
COMPAT_FUZZTIME ?= 2m
compat: compat-check
	cd compat && $(GO) test -run '^$$' -fuzz '^FuzzCompat$$' -fuzztime $(COMPAT_FUZZTIME) .

compat-check:
	cd compat && $(GO) vet ./... && $(GO) test -count=1 -v ./... | grep -v -e '^=== RUN' -e '^--- PASS' -e '^    --- PASS'; test $${PIPESTATUS[0]} -eq 0

# Benchmarks on the real engine with local images, against a minimal
# Docker-client bound, plus the Go benchmarks of the pure parts: prints one
# table and writes BENCHMARKS.md. The Docker part holds the e2e lock so that
# no other Docker-heavy suite runs meanwhile; the Go part runs before it.
bench: setup build
	$(GO) build -o bin/bench ./runner/bench
	./bin/bench --go-only --go-results bin/gobench.txt
	flock /tmp/docker-e2e.lock ./bin/bench --runner-bin $(BIN) --go-results bin/gobench.txt --out BENCHMARKS.md

# The full torture (issue 17), on the real engine under the e2e lock: 200
# SIGKILLs of runner under manifest and URL churn, 5 restarts of a private
# dockerd under 20 pods (3 with live-restore), the malformed-manifest corpus,
# a full --root-dir, 1,000 pod create/delete cycles, writes outside
# --root-dir; the invariants after each; then the manifest parser fuzzed for
# 10 minutes. `make test` runs a short variant of each. RUNNER_TORTURE_SEED=<n>
# repeats a run's random choices.
torture: setup
	RUNNER_TORTURE=full flock /tmp/docker-e2e.lock $(GO) test -count=1 -p 1 -timeout 45m -v \
		-run 'Torture|EngineRestart|InvariantChecker' ./runner/e2e
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 10m ./manifest

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
