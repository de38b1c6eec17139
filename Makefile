# Every target installs what it lacks first (scripts/setup.sh is idempotent).
.PHONY: setup build test test-native test-browser bench fuzz mutants demo clean

setup:
	./scripts/setup.sh

build: setup
	./scripts/build.sh

# Setup, build, native tests, then every JS test file under a time limit, with a table of what each
# phase took (scripts/run-tests.js). AUTHLANE_TEST_LIMIT_S bounds the whole run (default 40 min).
test:
	node scripts/run-tests.js

test-native:
	cargo test
	cargo test -p devserver

# The JS test files only (build first); one file: node scripts/run-tests.js tests/browser/cross-tab.test.js
test-browser: build
	node scripts/run-tests.js --js

bench: build
	node scripts/bench-size.js
	cargo run --quiet --release --example fetch_counts
	node scripts/bench-startup.js

# Ten million random and mutated JWTs, peer messages and stored records through the native
# decoders (not part of `make test`): prints "N inputs, P panics" and the slowest input; fails on a panic.
fuzz:
	cargo run --quiet --profile fuzz --example fuzz_decoders

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
