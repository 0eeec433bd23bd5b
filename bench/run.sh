#!/usr/bin/env bash
# 1,000 SigV4-signed requests to the demo gateway: one `gwcurl run --parallel 8`
# vs 1,000 sequential `curl --aws-sigv4` processes, in one hyperfine run.
# Target ratio (medians): <= 0.1.
source "$(dirname "$0")/lib.sh"
need_hyperfine
build_gwcurl
N=${N:-1000}
start_bg GW "$OUT/gwcurl" gateway --quiet --profiles-out "$OUT/run-demo/config.yaml"
export GWCURL_CONFIG="$OUT/run-demo/config.yaml" NO_COLOR=1
RUNFILE="$OUT/run-$N.yaml"
for i in $(seq 1 "$N"); do echo "- {name: r$i, profile: demo-sigv4, url: /echo, expect: {status: 200}}"; done >"$RUNFILE"
CURLS="$OUT/curl-$N.sh"
{
  echo 'set -e'
  for i in $(seq 1 "$N"); do
    echo "curl -sf -o /dev/null --aws-sigv4 aws:amz:us-east-1:lambda --user AKIAGWCURLDEMO000001:gwcurlDemoSecretKey000000000000000000001 -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' $GW/aws/echo"
  done
} >"$CURLS"
# sanity: both succeed before timing
"$OUT/gwcurl" run "$RUNFILE" --parallel 8 >/dev/null
bash "$CURLS"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$OUT/run.json" \
  "$OUT/gwcurl run $RUNFILE --parallel 8" \
  "bash $CURLS" >&2
echo "$N SigV4 requests, gwcurl run --parallel 8 / sequential curl --aws-sigv4 (medians): $(median_ratio "$OUT/run.json" 0 1)"
