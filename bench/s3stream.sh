#!/usr/bin/env bash
# S3 streaming upload (issue 19): a 1 GiB file PUT to a local MinIO with
# automatic streaming signing (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, one pass
# over the file) vs `curl -T` of the same file, unsigned (the bucket allows
# anonymous PutObject for that one prefix). Wall time and peak RSS of each
# from /usr/bin/time -v; then gwcurl's object is read back and its SHA-256
# compared with the file's.
#
# Targets (issue 19): gwcurl wall <= 1.2 x curl's, gwcurl peak RSS <= 32 MiB.
# Knobs: UPLOAD_BYTES (default 1073741824), MINIO (default: minio on PATH or
# ~/go/bin/minio).
source "$(dirname "$0")/lib.sh"
build_gwcurl
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
MINIO=${MINIO:-$(command -v minio || echo "$HOME/go/bin/minio")}
[ -x "$MINIO" ] || { echo "minio not found: go install github.com/minio/minio@... (see .ci/run)" >&2; exit 1; }
BYTES=${UPLOAD_BYTES:-1073741824}
GW=$OUT/gwcurl
WORK=$(mktemp -d "$OUT/s3stream.XXXXXX")
trap 'kill ${BG_PIDS:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); CONSOLE=$(free_port)
USER_=gwcurlbench SECRET=gwcurl-bench-secret-0001
MINIO_ROOT_USER=$USER_ MINIO_ROOT_PASSWORD=$SECRET MINIO_BROWSER=off MINIO_UPDATE=off HOME=$WORK \
  "$MINIO" server --quiet --address "127.0.0.1:$PORT" --console-address "127.0.0.1:$CONSOLE" "$WORK/data" >"$OUT/minio.log" 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 300); do curl -sf -o /dev/null "$BASE/minio/health/ready" && break; sleep 0.2; done

# gwcurl profile with the MinIO keys; the machine's AWS setup stays out.
export NO_COLOR=1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
printf '%s' "$SECRET" >"$WORK/secret"
cat >"$WORK/config.yaml" <<YAML
profiles:
  minio:
    base_url: $BASE
    auth: {kind: sigv4, service: s3, region: us-east-1, access_key_id: $USER_, secret_access_key: "file:$WORK/secret"}
YAML
export GWCURL_CONFIG=$WORK/config.yaml
for _ in $(seq 1 50); do "$GW" -s -f -p minio -X PUT /bench >/dev/null 2>&1 && break; sleep 0.2; done
"$GW" -s -f -p minio -X PUT '/bench?policy' -H 'Content-Type: application/json' -d '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:PutObject"],"Resource":["arn:aws:s3:::bench/curl/*"]}]}' >/dev/null

echo "writing $BYTES random bytes" >&2
head -c "$BYTES" /dev/urandom >"$WORK/blob"
WANT=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
cat "$WORK/blob" >/dev/null # both runs start from a warm page cache

measure() { # name cmd...: prints "wall_seconds peak_rss_kib"
  local name=$1; shift
  sync # the previous run's writeback is not billed to this one
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || { cat "$WORK/$name.err" >&2; exit 1; }
  python3 - "$WORK/$name.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
w = re.search(r"Elapsed \(wall clock\) time.*: (.+)", t).group(1).split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
cpu = sum(float(re.search(p + r": ([\d.]+)", t).group(1)) for p in ("User time \\(seconds\\)", "System time \\(seconds\\)"))
print(f"{secs:.2f} {rss} {cpu:.2f}")
PY
}
read -r GW_WALL GW_RSS GW_CPU < <(measure gwcurl "$GW" -v -s -f -p minio -T "$WORK/blob" /bench/gwcurl/blob)
grep -q 'streaming payload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)' "$WORK/gwcurl.err" || { echo "gwcurl did not stream-sign the upload" >&2; exit 1; }
read -r CURL_WALL CURL_RSS CURL_CPU < <(measure curl curl -sS -f -o /dev/null -T "$WORK/blob" "$BASE/bench/curl/blob")
# For reference: the same upload hashed first (two passes over the file).
read -r HASH_WALL HASH_RSS HASH_CPU < <(measure hash "$GW" -s -f -p minio --payload hash -T "$WORK/blob" /bench/gwcurl/blob-hash)
"$GW" -s -f -p minio -o "$WORK/back" /bench/gwcurl/blob
GOT=$(sha256sum "$WORK/back" | cut -d' ' -f1)
[ "$GOT" = "$WANT" ] || { echo "object differs: $GOT != $WANT" >&2; exit 1; }
python3 - "$BYTES" "$GW_WALL" "$GW_RSS" "$CURL_WALL" "$CURL_RSS" "$HASH_WALL" "$HASH_RSS" "$GW_CPU" "$CURL_CPU" "$HASH_CPU" <<'PY'
import sys
n, gw, gr, cu, cr, hw, hr, gc, cc, hc = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"S3 streaming upload of {n >> 20} MiB to MinIO (object read back, sha256 equal):")
print(f"  gwcurl -T (streaming-signed): {gw:.2f} s, peak RSS {gr/1024:.1f} MiB, client CPU {gc:.2f} s")
print(f"  curl -T (unsigned):           {cu:.2f} s, peak RSS {cr/1024:.1f} MiB, client CPU {cc:.2f} s")
print(f"  gwcurl --payload hash -T:     {hw:.2f} s, peak RSS {hr/1024:.1f} MiB, client CPU {hc:.2f} s (reference: two passes)")
print(f"  wall ratio gwcurl/curl = {gw/cu:.3f} (target <= 1.2); gwcurl RSS target <= 32 MiB")
PY
