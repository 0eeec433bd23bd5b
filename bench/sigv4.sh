#!/usr/bin/env bash
# SigV4, in one run:
#
#  1. a signed GET against the demo gateway's /aws route (sigv4, lambda,
#     us-east-1, verified for real): `gwcurl -p demo-sigv4 GET /echo` vs
#     `curl --aws-sigv4` vs a Python botocore+requests signer
#     (bench/sigv4_botocore.py), one hyperfine run, ratios of medians
#     (targets: gwcurl/python <= 0.05; gwcurl/curl reported);
#  2. a 1 GiB `--data-binary @file` signed upload (the body is hashed by streaming it,
#     then streamed again to the wire) to a local sink that discards it:
#     gwcurl's peak RSS from /usr/bin/time -v (target <= 64 MiB), and its
#     wall time against `curl -T` of the same file, unsigned (target <= 1.5).
#
# The gateway is `gwcurl gateway` (the embedded demo). While that command's
# gateway does not yet register the sigv4 verifier, the script says so and
# uses bench/cmd/sigv4bench, which serves the same demo config through the
# same gateway library with internal/gateway/verify/sigv4verify registered.
#
# Knobs: RUNS (GET runs per command, default 100), UPLOAD_RUNS (default 5),
# UPLOAD_BYTES (default 1073741824).
source "$(dirname "$0")/lib.sh"
need_hyperfine
build_gwcurl
(cd "$ROOT" && go build -trimpath -o "$OUT/sigv4bench" ./bench/cmd/sigv4bench)
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

# Keep the machine's own AWS setup out of it; never touch the EC2 metadata service.
export NO_COLOR=1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

CFG="$OUT/sigv4-demo.yaml"
export GWCURL_CONFIG="$CFG"
GW=$OUT/gwcurl

# ---- the gateway ----
start_bg GATEWAY "$GW" gateway --quiet --profiles-out "$CFG"
if ! "$GW" -s -f -p demo-sigv4 GET /echo >/dev/null 2>&1; then
  why=$("$GW" -s -p demo-sigv4 GET /echo 2>&1 | tr -d '\n' | head -c 200 || true)
  echo "note: \`gwcurl gateway\` does not verify sigv4 yet (${why}); using bench/cmd/sigv4bench gateway instead" >&2
  kill "${BG_PIDS##* }" 2>/dev/null || true
  start_bg GATEWAY "$OUT/sigv4bench" gateway --profiles-out "$CFG"
  GATEWAY_USED="bench/cmd/sigv4bench gateway"
else
  GATEWAY_USED="gwcurl gateway"
fi

AK=AKIAGWCURLDEMO000001
SK=$(cat "$(dirname "$CFG")/demo-secrets/aws-secret-access-key")
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
URL="$GATEWAY/aws/echo"

# Every contender must really pass verification before it is timed.
"$GW" -s -f -p demo-sigv4 GET /echo >/dev/null || { echo "gwcurl -p demo-sigv4 GET /echo failed against $GATEWAY" >&2; exit 1; }
curl -s -f --aws-sigv4 aws:amz:us-east-1:lambda --user "$AK:$SK" "$URL" >/dev/null || { echo "curl --aws-sigv4 is refused by $GATEWAY" >&2; exit 1; }
python3 "$BENCH_DIR/sigv4_botocore.py" "$URL" lambda us-east-1 >/dev/null || { echo "botocore+requests is refused (pip install botocore requests?)" >&2; exit 1; }

hyperfine -N --warmup 5 --runs "${RUNS:-100}" --export-json "$OUT/sigv4-get.json" \
  "$GW -s -p demo-sigv4 GET /echo" \
  "curl -s --aws-sigv4 aws:amz:us-east-1:lambda --user $AK:$SK $URL" \
  "python3 $BENCH_DIR/sigv4_botocore.py $URL lambda us-east-1" >&2

# ---- the large upload ----
SIZE=${UPLOAD_BYTES:-1073741824}
BIG="$OUT/sigv4-upload-$SIZE.bin"
if [ ! -f "$BIG" ] || [ "$(stat -c %s "$BIG")" != "$SIZE" ]; then
  echo "writing $SIZE random bytes to $BIG" >&2
  head -c "$SIZE" /dev/urandom >"$BIG.tmp" && mv "$BIG.tmp" "$BIG"
fi
start_bg SINK "$OUT/sigv4bench" sink
UP=("$GW" -s -X PUT --auth sigv4 --service lambda --region us-east-1 --data-binary "@$BIG" "$SINK/upload")
got=$("${UP[@]}")
case $got in *"\"bytes\": $SIZE"*) ;; *) echo "the signed upload did not deliver $SIZE bytes: $got" >&2; exit 1 ;; esac
/usr/bin/time -v "${UP[@]}" -o /dev/null 2>"$OUT/sigv4-upload.time"
RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$OUT/sigv4-upload.time")

hyperfine -N --warmup 1 --runs "${UPLOAD_RUNS:-5}" --export-json "$OUT/sigv4-upload.json" \
  "$GW -s -o /dev/null -X PUT --auth sigv4 --service lambda --region us-east-1 --data-binary @$BIG $SINK/upload" \
  "curl -s -o /dev/null -T $BIG $SINK/upload" >&2

echo "gateway: $GATEWAY_USED"
echo "sigv4 GET, gwcurl / curl --aws-sigv4 (medians): $(median_ratio "$OUT/sigv4-get.json" 0 1)"
echo "sigv4 GET, gwcurl / python botocore+requests (medians): $(median_ratio "$OUT/sigv4-get.json" 0 2) (target <= 0.05)"
echo "signed upload of $SIZE bytes, gwcurl peak RSS: $((RSS_KB / 1024)) MiB (target <= 64 MiB)"
echo "signed upload of $SIZE bytes, gwcurl / curl -T (medians): $(median_ratio "$OUT/sigv4-upload.json" 0 1) (target <= 1.5)"
