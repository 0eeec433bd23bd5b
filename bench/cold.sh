#!/usr/bin/env bash
# Cold start: `gwcurl GET URL` vs `curl URL` against the same local origin, one
# hyperfine run, ratio of medians (target: <= 1.0).
source "$(dirname "$0")/lib.sh"
need_hyperfine
build_gwcurl
(cd "$ROOT" && go build -o "$OUT/origin" ./bench/cmd/origin)
start_bg ORIGIN "$OUT/origin"
URL="$ORIGIN/json"
export GWCURL_CONFIG="$OUT/empty-config.yaml" NO_COLOR=1
hyperfine -N --warmup 20 --runs "${RUNS:-300}" --export-json "$OUT/cold.json" \
  "$OUT/gwcurl -s $URL" \
  "curl -s $URL" >&2
echo "cold start, gwcurl / curl (medians): $(median_ratio "$OUT/cold.json" 0 1)"
