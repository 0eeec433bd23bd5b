#!/usr/bin/env bash
# Google ID token overhead: a request with a cached ID token
# (`gwcurl -p demo-google GET /echo`) vs the same request with no auth
# (`gwcurl -p demo-public GET /echo`), both against the local demo gateway,
# in one hyperfine run. Ratio of medians; target <= 1.2.
#
# The cache is warmed first, so the measured runs mint nothing: they read the
# cached token (one small file), verify nothing locally, and send it; the
# gateway verifies the RS256 signature on each request.
source "$(dirname "$0")/lib.sh"
need_hyperfine
build_gwcurl

CFG="$OUT/google-demo.yaml"
export NO_COLOR=1
export XDG_CACHE_HOME="$OUT/google-cache"
rm -rf "$XDG_CACHE_HOME"
# Never pick up the machine's own Google credentials or metadata server.
unset GOOGLE_APPLICATION_CREDENTIALS GCE_METADATA_HOST CLOUDSDK_CONFIG

start_bg GATEWAY "$OUT/gwcurl" gateway --quiet --profiles-out "$CFG"
export GWCURL_CONFIG="$CFG"

# Warm up: mint and cache the ID token once, and check both requests work.
"$OUT/gwcurl" -s -f -p demo-google GET /echo >/dev/null || {
  echo "gwcurl -p demo-google GET /echo failed against $GATEWAY (is google_id registered in the gateway?)" >&2
  "$OUT/gwcurl" -p demo-google GET /echo >&2 || true
  exit 1
}
"$OUT/gwcurl" -s -f -p demo-public GET /echo >/dev/null

hyperfine -N --warmup 20 --runs "${RUNS:-300}" --export-json "$OUT/google.json" \
  "$OUT/gwcurl -s -p demo-google GET /echo" \
  "$OUT/gwcurl -s -p demo-public GET /echo" >&2
echo "google ID token (cached) / no auth (medians): $(median_ratio "$OUT/google.json" 0 1)"
