# Every target installs what it lacks first (scripts/setup.sh is idempotent).
.PHONY: setup build test test-native test-browser bench fuzz demo clean

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

# The demo against a real server: the devserver (sync endpoint + dev issuer) serving all four pages
# on 127.0.0.1:8080 (PORT=… to change). `node www/serve.js` serves the pages statically instead.
demo: build
	cargo build --quiet -p devserver
	node www/build-demo.js
	node www/devserver.js

clean:
	cargo clean
	rm -rf pkg/dist pkg/wasm node_modules
