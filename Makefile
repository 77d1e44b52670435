# Parley: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APT_PACKAGES := libsodium-dev libsqlite3-dev libpng-dev pkg-config
PIP_PACKAGES := pynacl noiseprotocol
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
SWIFT_BUILD_FLAGS ?=

.PHONY: help deps build test vectors demo server client bench chaos clean

help:
	@echo "make demo    build and run a real server with two clients (the quick start)"
	@echo "make test    install what is missing, build, and run every test"
	@echo "make build   build the server and client"
	@echo "make server  run parley-server on 127.0.0.1:50007 (data in ./parley-data)"
	@echo "make client  run the interactive client against 127.0.0.1:50007"
	@echo "make bench   build the benchmark suite (release) and run it (~5-10 min; see BENCHMARKS.md)"
	@echo "make chaos   one long seeded chaos run: make chaos SEED=42 STEPS=20000"

# Installs the system libraries and Python test peers, only when something is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		for try in 1 2 3 4 5; do DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing && break; \
			echo "apt busy, retrying ($$try)"; sleep 5; done; \
		for p in $$missing; do dpkg -s $$p >/dev/null 2>&1 || { echo "could not install $$p"; exit 1; }; done; \
	fi
	@python3 -c "import nacl, noise" 2>/dev/null || python3 -m pip install -q $(PIP_PACKAGES) \
		|| python3 -m pip install -q --break-system-packages $(PIP_PACKAGES)

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

# The independent Python implementation re-derives every committed protocol vector.
vectors: deps
	python3 Tools/vectors/generate.py --check

# Builds every product first: the end-to-end tests run the real parley-server and parley binaries.
test: deps vectors
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

# The quick start: a real server on a temporary data directory and two real clients.
demo: build
	bash scripts/demo.sh

# A server on 127.0.0.1:50007 with its data in ./parley-data (Ctrl-C stops it cleanly).
server: build
	$$(swift build --show-bin-path)/parley-server --data-dir ./parley-data

# The interactive client against 127.0.0.1:50007 (its home is ~/.local/share/parley unless PARLEY_HOME is set).
client: build
	$$(swift build --show-bin-path)/parley

# The benchmark suite: its own package in Benchmarks/, so `make build`, `make test` and CI never
# compile or run it. Release build. BENCH_ARGS selects benchmarks and options, e.g.
# `make bench BENCH_ARGS="crypto --quick"` (see BENCHMARKS.md).
BENCH_ARGS ?=
bench: deps
	cd Benchmarks && swift build -c release
	Benchmarks/.build/release/parley-bench $(BENCH_ARGS)

# One long run of the seeded chaos test (Tests/ApplicationTests/ChaosTests.swift). A seed that
# fails is printed with the steps before the failure; keep it in ChaosTests.regressionSeeds.
SEED ?= 1
STEPS ?= 20000
chaos: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	PARLEY_CHAOS_SEED=$(SEED) PARLEY_CHAOS_STEPS=$(STEPS) swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter ChaosTests

clean:
	rm -rf .build
