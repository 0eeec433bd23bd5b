# Release packaging. `make dist` cross-builds linux/darwin/windows x
# amd64/arm64 into dist/ with -trimpath and the version stamped (VERSION
# defaults to `git describe`), bundles completions and man pages, and writes
# dist/SHA256SUMS. PLATFORMS="linux/amd64" builds a subset.
.PHONY: dist docs test clean

dist:
	./scripts/dist.sh

docs:
	go run ./cmd/gen-docs

test:
	go test -race ./...

clean:
	rm -rf dist
