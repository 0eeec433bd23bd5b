#!/usr/bin/env bash
# Full-hash signed upload (issue 21): a 1 GiB file PUT with SigV4 for service
# lambda, which takes no streaming payload: gwcurl hashes the file (one pass),
# signs, then sends it (a second pass). The yardstick is what a shell script
# would do, `sha256sum FILE` then `curl -T FILE`, to the same local origin,
# which reads the body to its end and discards it (`sigv4bench sink`).
# ROUNDS rounds, the commands interleaved within each round; medians reported.
# The origin answers the byte count and the x-amz-content-sha256 it got,
# checked against the file.
#
# Targets (issue 21): gwcurl wall <= 1.1 x (sha256sum + curl -T) (medians),
# gwcurl peak RSS <= 32 MiB. Knobs: UPLOAD_BYTES, ROUNDS.
source "$(dirname "$0")/lib.sh"
source "$BENCH_DIR/upload_lib.sh"
build_gwcurl
need_time
GW=$OUT/gwcurl
WORK=$(mktemp -d "$OUT/uploadhash.XXXXXX")
trap 'kill ${BG_PIDS:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$OUT/sigv4bench" ./bench/cmd/sigv4bench)
start_bg ORIGIN "$OUT/sigv4bench" sink

isolate_aws
printf '%s' gwcurlBenchSecretKey0000000000000000000001 >"$WORK/secret"
cat >"$WORK/config.yaml" <<YAML
profiles:
  lambda:
    base_url: $ORIGIN
    auth: {kind: sigv4, service: lambda, region: us-east-1, access_key_id: AKIAGWCURLBENCH00001, secret_access_key: "file:$WORK/secret"}
YAML
export GWCURL_CONFIG=$WORK/config.yaml

make_blob "$WORK/blob"
WANT=$(sha256sum "$WORK/blob" | cut -d' ' -f1)

# gwcurl sent the whole file, signed with its hash.
"$GW" -s -f -p lambda -T "$WORK/blob" /sink/check >"$WORK/check.json"
python3 - "$WORK/check.json" "$BYTES" "$WANT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bytes"] == int(sys.argv[2]), d
assert d["x_amz_content_sha256"] == sys.argv[3], d
PY

for r in $(seq 1 "$ROUNDS"); do
  measure gwcurl "$r" "$GW" -s -f -p lambda -T "$WORK/blob" /sink/gwcurl
  measure sha256sum "$r" sha256sum "$WORK/blob"
  measure curl "$r" curl -sS -f -o /dev/null -T "$WORK/blob" "$ORIGIN/sink/curl"
done
echo "Full-hash (service lambda) signed upload of $((BYTES >> 20)) MiB to a local origin, $ROUNDS rounds (length and signed hash checked):"
summarize "$WORK/results" <<'PY'
gw, sh, cu = R["gwcurl"], R["sha256sum"], R["curl"]
line("gwcurl -T (hash, then send)", gw)
line("sha256sum", sh)
line("curl -T (unsigned)", cu)
ratios = [g["wall"] / (s["wall"] + c["wall"]) for g, s, c in zip(gw, sh, cu)]
print("  per-round wall ratios gwcurl/(sha256sum+curl): " + " ".join("%.3f" % x for x in ratios))
print("  wall ratio gwcurl/(sha256sum+curl) (medians) = %.3f (target <= 1.1); gwcurl peak RSS %.1f MiB (target <= 32 MiB)"
      % (med(gw, "wall") / (med(sh, "wall") + med(cu, "wall")), max(x["rss"] for x in gw) / 1024))
PY
