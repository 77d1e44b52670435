# Parley: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APT_PACKAGES := libsodium-dev libsqlite3-dev libpng-dev pkg-config
PIP_PACKAGES := pynacl noiseprotocol
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
SWIFT_BUILD_FLAGS ?=

.PHONY: help deps build test vectors demo server client clean

help:
	@echo "make demo    build and run a real server with two clients (the quick start)"
	@echo "make test    install what is missing, build, and run every test"
	@echo "make build   build the server and client"
	@echo "make server  run parley-server on 127.0.0.1:50007 (data in ./parley-data)"
	@echo "make client  run the interactive client against 127.0.0.1:50007"

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
	@python3 -c "import nacl, noise" 2>/dev/null || python3 -m pip install -q $(PIP_PACKAGES)

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

# The independent Python implementation re-derives every committed protocol vector.
vectors: deps
	python3 Tools/vectors/generate.py --check

# --build-tests builds every product as well: ServerIntegrationTests runs the parley-server binary
# (tests never build it themselves, and fail with instructions when it is missing).
test: deps vectors
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

demo server client: deps
	@echo "make $@: the parley server and client are not built yet (see the open issues); nothing to run." >&2
	@exit 1

clean:
	rm -rf .build
