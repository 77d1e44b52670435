# Parley: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# postgresql: the PostgreSQL store's tests start a throwaway cluster of their own (Tests/PostgresStoreTests).
APT_PACKAGES := libsodium-dev libsqlite3-dev libpng-dev pkg-config postgresql
PIP_PACKAGES := pynacl noiseprotocol kyber-py jsonschema
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
SWIFT_BUILD_FLAGS ?=

.PHONY: help deps build test vectors demo demo-nodes server client bench bench-smoke bench-valgrind chaos fuzz fuzz-build fuzz-seeds sanitize asan tsan clean

help:
	@echo "make demo    build and run a real server with two clients (the quick start)"
	@echo "make test    install what is missing, build, and run every test"
	@echo "make demo-nodes  two server nodes on one throwaway PostgreSQL, alice on one and bob on the other"
	@echo "make build   build the server and client"
	@echo "make server  run parley-server on 127.0.0.1:50007 (data in ./parley-data)"
	@echo "make client  run the interactive client against 127.0.0.1:50007"
	@echo "make bench   build the benchmark suite (release) and run it (~15 min; QUICK=1: a smoke run; see BENCHMARKS.md)"
	@echo "make chaos   one long seeded chaos run: make chaos SEED=42 STEPS=20000"
	@echo "make fuzz    build the libFuzzer targets (Fuzz/) and run each for FUZZ_SECONDS (default 60)"
	@echo "make sanitize  run the test suite under AddressSanitizer, then ThreadSanitizer (slow)"

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
	@python3 -c "import nacl, noise, kyber_py, jsonschema" 2>/dev/null || python3 -m pip install -q $(PIP_PACKAGES) \
		|| python3 -m pip install -q --break-system-packages $(PIP_PACKAGES)

# The two products only: the benchmark suite (parley-bench, in the same package) is left to
# `make test` and `make bench`.
build: deps
	swift build $(SWIFT_BUILD_FLAGS) --product parley-server
	swift build $(SWIFT_BUILD_FLAGS) --product parley

# The independent Python implementation re-derives every committed protocol vector.
vectors: deps
	python3 Tools/vectors/generate.py --check

# Builds every product first: the end-to-end tests run the real parley-server and parley binaries.
# The login-flood test compares a user's latency with and without a flood, so it runs alone,
# after the rest: measured while other suites load the machine, its baseline would be noise.
# The daemon's Python end-to-end run (a server, five daemons, Argon2id at every login) runs alone
# too, so that its load does not push the transport suites' timeouts.
# Suites whose assertions are wall-clock bounds (transport timeouts, a server closing a hostile
# connection within seconds, two first messages crossing within a push delay): they run in a pass
# of their own after the rest, so that the other suites' load on two cores cannot push them past
# their bounds.
TIMED_SUITES := LoopbackTransportTests RobustnessTests InboundLimitsTests RecoveryEndToEndTests
# Two parley-server processes on a throwaway PostgreSQL (ServerIntegrationTests): a node killed
# under 5,000 sends, PostgreSQL restarted, the real client moving between nodes. They load the
# machine (servers, PostgreSQL, ten clients) more than their generous bounds depend on it, so
# they run in a pass of their own, after the timed one, disturbing neither it nor the main pass.
CLUSTER_SUITES := ClusterProcessTests ClusterFailureTests
space := $(subst ,, )
test: deps vectors
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --skip LoginFloodTests --skip DaemonPythonTests $(TIMED_SUITES:%=--skip %) $(CLUSTER_SUITES:%=--skip %)
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter "$(subst $(space),|,$(TIMED_SUITES))"
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter "$(subst $(space),|,$(CLUSTER_SUITES))"
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter LoginFloodTests
	swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter DaemonPythonTests

# The quick start: a real server on a temporary data directory and two real clients.
demo: build
	bash scripts/demo.sh

# Two parley-server nodes on one throwaway PostgreSQL database (needs Debian's postgresql: make deps).
demo-nodes: build
	bash scripts/two-nodes.sh

# A server on 127.0.0.1:50007 with its data in ./parley-data (Ctrl-C stops it cleanly).
server: build
	$$(swift build --show-bin-path)/parley-server --data-dir ./parley-data

# The interactive client against 127.0.0.1:50007 (its home is ~/.local/share/parley unless PARLEY_HOME is set).
client: build
	$$(swift build --show-bin-path)/parley

# The benchmark suite: the `parley-bench` target (sources in Benchmarks/parley-bench), built in
# release next to a release parley-server (the figures in BENCHMARKS.md are release figures).
# Writes bench-results.json (one object per figure). BENCH_ARGS selects benchmarks and options,
# e.g. `make bench BENCH_ARGS="crypto relay-process"`; QUICK=1 is a smoke run of every benchmark
# (see BENCHMARKS.md). The callgrind benchmark needs valgrind, installed here when missing.
BENCH_ARGS ?=
QUICK ?=
bench: deps bench-valgrind
	swift build -c release $(SWIFT_BUILD_FLAGS) --product parley-server
	swift build -c release $(SWIFT_BUILD_FLAGS) --product parley-bench
	$$(swift build -c release --show-bin-path)/parley-bench $(if $(QUICK),--quick) $(BENCH_ARGS)

# What CI runs after `make test`: the smoke run of every benchmark on the debug build that
# `make test` has just made (parley-bench is one of its targets, so nothing is compiled here), to
# notice a benchmark that no longer runs. Its numbers are a debug build's: not for BENCHMARKS.md.
bench-smoke: deps bench-valgrind
	swift build $(SWIFT_BUILD_FLAGS) --product parley-bench
	swift build $(SWIFT_BUILD_FLAGS) --product parley-server
	$$(swift build --show-bin-path)/parley-bench --quick $(BENCH_ARGS)

bench-valgrind:
	@dpkg -s valgrind >/dev/null 2>&1 || { $(SUDO) apt-get update -qq; \
		for try in 1 2 3 4 5; do DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq valgrind && break; \
			echo "apt busy, retrying ($$try)"; sleep 5; done; }

# One long run of the seeded chaos test (Tests/ApplicationTests/ChaosTests.swift). A seed that
# fails is printed with the steps before the failure; keep it in ChaosTests.regressionSeeds.
SEED ?= 1
STEPS ?= 20000
chaos: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	PARLEY_CHAOS_SEED=$(SEED) PARLEY_CHAOS_STEPS=$(STEPS) swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter ChaosTests

# The libFuzzer targets: their own package in Fuzz/, so `make build`, `make test` never compile
# them; release build with `--sanitize=fuzzer` (libFuzzer + ASan) in Fuzz/.build-fuzz. Each target
# runs FUZZ_SECONDS from the seeds in Fuzz/Corpus/<target>/; a failing input lands in
# Fuzz/Crashes/<target>/, to be committed with its fix (Tests/FuzzReplayTests replays it).
# FUZZ_TARGETS picks targets, e.g. `make fuzz FUZZ_TARGETS=envelope FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= wire-codec envelope session-state noise-responder client-records png-validation
fuzz-build: deps
	cd Fuzz && swift build -c release --sanitize=fuzzer --scratch-path .build-fuzz
fuzz: fuzz-build
	bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Regenerates Fuzz/Corpus/<target>/seed-* from real encodings (FuzzTarget.seeds).
fuzz-seeds: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	PARLEY_WRITE_FUZZ_SEEDS=1 swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter FuzzReplayTests

# The whole test suite under AddressSanitizer (with LeakSanitizer), then ThreadSanitizer, each in
# its own build folder; see Tools/sanitizers/README.md. Swift Testing only (`--disable-xctest`):
# XCTest itself leaks, which LSan reports. The sanitizer runtimes (LSan is part of ASan's) ship
# with the Swift toolchain: nothing beyond `deps` is installed. Known third-party findings are
# suppressed narrowly in Tools/sanitizers/*.supp; any other report fails the run.
#
# Three passes, as `make test` runs the login-flood test alone: everything but ChaosTests and
# LoginFloodTests, then each of those two by itself (sharing the machine with the chaos test under
# TSan slowed ServerLimitsTests' 10,000 sends from 4 s to over its 3-minute limit).
# PARLEY_SANITIZER tells LoginFloodTests to scale its absolute time bounds.
# SANITIZE_FILTER runs one pass with those arguments instead, e.g.
# `make tsan SANITIZE_FILTER="--filter ApplicationTests"`.
SANITIZE_FILTER ?=
# The same passes as `make test` (the wall-clock-bound and the two-node suites each on their own:
# in one pass with the rest, under a sanitizer's 2-3x slowdown, the load made dozens of requests
# time out), plus the chaos run.
SANITIZE_PASSES = $(if $(strip $(SANITIZE_FILTER)),"$(SANITIZE_FILTER)","--skip ChaosTests --skip LoginFloodTests $(TIMED_SUITES:%=--skip %) $(CLUSTER_SUITES:%=--skip %)" "--filter $(subst $(space),|,$(TIMED_SUITES))" "--filter $(subst $(space),|,$(CLUSTER_SUITES))" "--filter ChaosTests" "--filter LoginFloodTests")
sanitize: asan tsan
asan: deps
	swift build --build-tests --sanitize=address --scratch-path .build-asan $(SWIFT_BUILD_FLAGS)
	@status=0; for pass in $(SANITIZE_PASSES); do \
		echo "== asan: swift test $$pass"; \
		PARLEY_SANITIZER=address LSAN_OPTIONS=suppressions=$(CURDIR)/Tools/sanitizers/lsan.supp:print_suppressions=0 \
			swift test --skip-build --sanitize=address --scratch-path .build-asan --disable-xctest $(SWIFT_BUILD_FLAGS) $$pass \
			|| status=1; \
	done; exit $$status
tsan: deps
	swift build --build-tests --sanitize=thread --scratch-path .build-tsan $(SWIFT_BUILD_FLAGS)
	@status=0; for pass in $(SANITIZE_PASSES); do \
		echo "== tsan: swift test $$pass"; \
		PARLEY_SANITIZER=thread TSAN_OPTIONS=suppressions=$(CURDIR)/Tools/sanitizers/tsan.supp \
			swift test --skip-build --sanitize=thread --scratch-path .build-tsan --disable-xctest $(SWIFT_BUILD_FLAGS) $$pass \
			|| status=1; \
	done; exit $$status

clean:
	rm -rf .build .build-asan .build-tsan Fuzz/.build-fuzz
