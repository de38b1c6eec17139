# Every target installs what it lacks first (scripts/setup.sh is idempotent).
.PHONY: setup build test test-native test-browser bench demo clean

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

demo: build
	node www/serve.js

clean:
	cargo clean
	rm -rf pkg/dist pkg/wasm node_modules
