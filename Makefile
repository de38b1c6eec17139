# Every target installs what it lacks first (scripts/setup.sh is idempotent).
.PHONY: setup build test test-native test-browser bench demo clean mutants

setup:
	./scripts/setup.sh

build: setup
	./scripts/build.sh

test: build test-native test-browser

test-native:
	cargo test
	cargo test -p devserver

test-browser:
	node --test tests/browser/ tests/frameworks/ tests/node/ tests/e2e/

bench: build
	node scripts/bench-size.js
	cargo run --quiet --release --example fetch_counts

# Mutation testing of src/core (cargo-mutants, installed from crates.io on first use; not part of
# `make test`). FILE=src/core/backoff.rs limits a run to one file (a glob): all of src/core takes
# hours on 2 cores. The random sequences shrink to 40 per property test (the named scenarios all run) and the
# tests build at opt-level 1, so one mutant costs seconds. Results: target/mutants.out/.
FILE ?= src/core/**
JOBS ?= 1
mutants:
	command -v cargo-mutants >/dev/null || cargo install cargo-mutants
	AUTHLANE_FUZZ_SEQUENCES=40 CARGO_PROFILE_DEV_OPT_LEVEL=1 \
		cargo mutants --jobs $(JOBS) --output target --file '$(FILE)' $(MUTANTS_ARGS)

# The demo against a real server: the devserver (sync endpoint + dev issuer) serving all four pages
# on 127.0.0.1:8080 (PORT=… to change). `node www/serve.js` serves the pages statically instead.
demo: build
	cargo build --quiet -p devserver
	node www/build-demo.js
	node www/devserver.js

clean:
	cargo clean
	rm -rf pkg/dist pkg/wasm node_modules
