#!/usr/bin/env bash
# Release archives: cross-builds gwcurl for each GOOS/GOARCH in $PLATFORMS with
# -trimpath and the version stamped by -ldflags, bundles the README, licence
# files, shell completions and man pages, and writes SHA256SUMS. Called by
# `make dist`; the result is in dist/. (A GoReleaser config would do the same,
# but goreleaser is not an approved module for this project's build machines.)
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VERSION:=$(git describe --tags --always --dirty 2>/dev/null || echo devel)}"
: "${COMMIT:=$(git rev-parse HEAD 2>/dev/null || true)}"
: "${DATE:=$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
: "${PLATFORMS:=linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"
: "${DIST:=dist}"

pkg=github.com/gwcurl/gwcurl/internal/build
ldflags="-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT -X $pkg.Date=$DATE"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"

rm -rf "$DIST"
mkdir -p "$DIST/share/completions" "$DIST/share/man/man1"

# Completions come from a binary for this machine; man pages from the cobra tree.
go build -trimpath -ldflags "$ldflags" -o "$DIST/host/gwcurl" ./cmd/gwcurl
"$DIST/host/gwcurl" completion bash >"$DIST/share/completions/gwcurl.bash"
"$DIST/host/gwcurl" completion zsh >"$DIST/share/completions/_gwcurl"
"$DIST/host/gwcurl" completion fish >"$DIST/share/completions/gwcurl.fish"
"$DIST/host/gwcurl" completion powershell >"$DIST/share/completions/gwcurl.ps1"
go run ./cmd/gen-docs -md "$DIST/host/md" -man "$DIST/share/man/man1"

for p in $PLATFORMS; do
  goos=${p%/*} goarch=${p#*/}
  name="gwcurl_${VERSION#v}_${goos}_${goarch}"
  dir="$DIST/$name"
  exe=gwcurl
  [ "$goos" = windows ] && exe=gwcurl.exe
  echo "== $p"
  mkdir -p "$dir"
  GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/gwcurl
  cp README.md "$dir/"
  for f in LICENSE LICENSE.md COPYING; do [ -f "$f" ] && cp "$f" "$dir/"; done
  cp -R "$DIST/share/completions" "$DIST/share/man" "$dir/"
  if [ "$goos" = windows ]; then
    (cd "$DIST" && python3 -m zipfile -c "$name.zip" "$name")
  else
    tar -C "$DIST" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-0}" -czf "$DIST/$name.tar.gz" "$name"
  fi
  rm -rf "$dir"
done
rm -rf "$DIST/host" "$DIST/share"
(cd "$DIST" && shopt -s nullglob && sha256sum -- *.tar.gz *.zip >SHA256SUMS)
cat "$DIST/SHA256SUMS"
