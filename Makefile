# Every target installs what it lacks first (scripts/setup.sh is idempotent).
.PHONY: setup build test test-native test-browser bench fuzz demo clean

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
