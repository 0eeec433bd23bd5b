#!/usr/bin/env bash
# bench/edge.sh — what the gateway's "other half" costs, in one run, on this
# machine (docs/gateway.md "Performance"): requests/s (hey, 50 concurrent) of
#
#   1. a route that signs toward its origin with origin_auth sigv4
#      (payload: hash), and one that mints Google ID tokens (origin_auth
#      google_id, cached), each against the same route unsigned;
#   2. an edge-cache HIT route against the same route uncached.
#
# Two `gwcurl gateway` processes: the edge gateway under test, and an origin
# gateway serving builtin:echo with auth none (it does not verify, so only
# the edge's signing is measured). Targets: signed >= 0.7 of unsigned; cache
# HIT >= 2x uncached. Installs hey from Debian when missing. Loopback only.
# Usage: bench/edge.sh [DURATION]   (default 10s)
source "$(dirname "$0")/lib.sh"
DURATION=${1:-${DURATION:-10s}}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/edgebench.XXXXXX")
trap 'kill ${BG_PIDS:-} 2>/dev/null || true; rm -rf "$TMP"' EXIT

if ! command -v hey >/dev/null; then
	echo "bench: installing hey (Debian)" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hey >/dev/null
fi
build_gwcurl
GW=$OUT/gwcurl

cat >"$TMP/origin.yaml" <<'YAML'
routes:
  - {prefix: /o, auth: {kind: none}, strip_prefix: true, upstream: builtin:echo}
YAML
start_bg ORIGIN_URL "$GW" gateway --quiet --config "$TMP/origin.yaml"

cat >"$TMP/edge.yaml" <<YAML
aws_keys:
  - {access_key_id: AKIABENCH00000000001, secret_access_key: benchSecretKey00000000000000000000000001, arn: "arn:aws:iam::111122223333:user/bench"}
routes:
  - {prefix: /plain, auth: {kind: none}, strip_prefix: true, upstream: "$ORIGIN_URL/o"}
  - {prefix: /sigv4, auth: {kind: none}, strip_prefix: true, upstream: "$ORIGIN_URL/o",
     origin_auth: {kind: sigv4, service: lambda, region: us-east-1, access_key_id: AKIABENCH00000000001}}
  - {prefix: /gid, auth: {kind: none}, strip_prefix: true, upstream: "$ORIGIN_URL/o",
     origin_auth: {kind: google_id, credentials: "builtin:demo", audience: "$ORIGIN_URL/o"}}
  - {prefix: /hit, auth: {kind: none}, strip_prefix: true, upstream: "$ORIGIN_URL/o", cache: {}}
YAML
start_bg EDGE_URL "$GW" gateway --quiet --config "$TMP/edge.yaml"

for p in plain/echo sigv4/echo gid/echo hit/cache/600; do
	curl -fsS -o /dev/null "$EDGE_URL/$p" || { echo "bench: $EDGE_URL/$p failed" >&2; curl -sS "$EDGE_URL/$p" >&2; exit 1; }
done
[[ $(curl -fsS -o /dev/null -D - "$EDGE_URL/hit/cache/600" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {print $2}') == HIT ]] ||
	{ echo "bench: /hit is not served from the cache" >&2; exit 1; }

# run NAME PATH: hey for DURATION; fails on any non-2xx answer; prints req/s.
run() {
	hey -z "$DURATION" -c 50 "$EDGE_URL/$2" >"$TMP/$1.txt"
	if grep -q "Error distribution" "$TMP/$1.txt" || grep -E '^\s+\[[0-9]+\]' "$TMP/$1.txt" | grep -vq '\[200\]'; then
		echo "bench: $1 had errors:" >&2; cat "$TMP/$1.txt" >&2; return 1
	fi
	awk '/Requests\/sec:/ {printf "%.0f", $2}' "$TMP/$1.txt"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
hey -n 3000 -c 50 "$EDGE_URL/plain/echo" >/dev/null # warm-up
PLAIN=$(run plain plain/echo)
SIGV4=$(run sigv4 sigv4/echo)
GID=$(run gid gid/echo)
HIT=$(run hit hit/cache/600)
MISS=$(run miss plain/cache/600) # the same origin answer, on the route without cache
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t ? "PASS" : "FAIL")}'; }
cat <<OUT
gwcurl edge benchmark — $(nproc) CPUs, $(uname -sr), $(go version | awk '{print $3}'), hey -c 50 for $DURATION each
load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)
  unsigned /plain/echo            $PLAIN req/s
  origin_auth sigv4 /sigv4/echo   $SIGV4 req/s   $(ratio "$SIGV4" "$PLAIN") of unsigned, target >= 0.7: $(verdict "$(ratio "$SIGV4" "$PLAIN")" 0.7)
  origin_auth google_id /gid/echo $GID req/s   $(ratio "$GID" "$PLAIN") of unsigned, target >= 0.7: $(verdict "$(ratio "$GID" "$PLAIN")" 0.7)
  uncached /plain/cache/600       $MISS req/s
  cache HIT /hit/cache/600        $HIT req/s   $(ratio "$HIT" "$MISS")x uncached, target >= 2: $(verdict "$(ratio "$HIT" "$MISS")" 2)
OUT
