#!/usr/bin/env bash
# bench/all.sh — every performance figure of gwcurl in one command, on this
# machine (docs/performance.md). It installs what it needs from Debian
# (hyperfine, hey, nginx, time; apt-get, when missing), builds gwcurl the way
# `go install` users get it (plain `go build ./cmd/gwcurl`), and prints:
#
#   1. the machine: CPU model, cores, kernel, Go, load average, tool versions;
#   2. start-up, one hyperfine run, four commands side by side against the
#      demo gateway (`gwcurl gateway`, loopback): `gwcurl GET` vs `curl` on
#      /public/echo, and a SigV4 GET with keys in the environment vs
#      `curl --aws-sigv4` on /aws/echo (both verified by the gateway);
#   3. what bounds start-up (bench/startup_floor.sh: minimal Go GET programs,
#      bare and with the named dependencies, next to gwcurl and curl), the
#      gateway rows (bench/gateway.sh), the signed 1 GiB uploads
#      (bench/upload_hash.sh: full hash vs sha256sum + curl -T, the table's
#      upload rows; bench/sigv4.sh, bench/s3stream.sh), the cached Google call
#      (bench/google.sh), `gwcurl run` vs curl processes (bench/run.sh) and
#      the edge gateway's signing and cache (bench/edge.sh), each script's
#      own report kept in full;
#   4. the table of issue 21: figure, measured, target, PASS/FAIL ("—" when
#      the script that measures a row does not print it yet).
#
# A script that fails does not stop the others: its row says "failed" and its
# log is under bench/out/all/. Everything listens on 127.0.0.1 only.
# Knobs: DURATION (hey runs, default 5s), ROUNDS (latency rounds, default 3),
# RUNS (start-up runs per command, hyperfine and interleaved, default 100), UPLOAD_BYTES (default 1 GiB),
# FLOOR_RUNS (runs per command of bench/startup_floor.sh, default 50),
# UPLOAD_ROUNDS (rounds of bench/upload_hash.sh, default 3),
# N (requests of bench/run.sh, default 500), SKIP (space-separated script
# names to leave out, e.g. SKIP="s3stream edge").
# Usage: bench/all.sh        (about 8 minutes on a quiet 2-core machine)
source "$(dirname "$0")/lib.sh"
set +e # each part reports its own failure
START=$(date +%s)
LOG="$OUT/all"
rm -rf "$LOG"
mkdir -p "$LOG"
export DURATION=${DURATION:-5s} ROUNDS=${ROUNDS:-3} UPLOAD_BYTES=${UPLOAD_BYTES:-1073741824}
export NO_COLOR=1

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v hey >/dev/null || missing+=(hey)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
	echo "bench: installing ${missing[*]} (apt-get)" >&2
	# policy-rc.d 101: installing nginx must not start a daemon on port 80.
	policy=
	if [[ ! -e /usr/sbin/policy-rc.d && $(id -u) -eq 0 ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
	fi
	as_root apt-get update -qq >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
	[[ -n $policy ]] && rm -f /usr/sbin/policy-rc.d
fi
python3 -c 'import botocore, requests' 2>/dev/null ||
	echo "bench: python3 botocore+requests missing (apt-get install python3-botocore python3-requests): the botocore figure of bench/sigv4.sh fails" >&2

echo "bench: building gwcurl (go build ./cmd/gwcurl)" >&2
build_gwcurl || { echo "bench: go build ./cmd/gwcurl failed" >&2; exit 1; }
export BENCH_BUILT=1 # the scripts below reuse this binary
GW=$OUT/gwcurl

# ---- 1. the machine ----
cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
[[ -z $cpu ]] && cpu=$(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
MACHINE="$(date -u +%Y-%m-%dT%H:%MZ) · ${cpu:-unknown CPU} · $(nproc) cores · $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) · Linux $(uname -r) · $(go version | awk '{print $3}')"
TOOLS="$(curl --version | head -1 | awk '{print $1, $2}') · hyperfine $(hyperfine --version | awk '{print $2}') · $( (nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1) | sed 's/.*: //') · gwcurl $(stat -c %s "$GW" | awk '{printf "%.1f MiB", $1 / 1048576}')"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== machine: $MACHINE"
echo "== tools: $TOOLS"
echo "== load average before: $LOAD_BEFORE"

# ---- 2. start-up: no auth and SigV4, one hyperfine run ----
startup() (
	cfg=$OUT/all-demo/config.yaml
	rm -rf "$OUT/all-demo"
	start_bg GATEWAY "$GW" gateway --quiet --profiles-out "$cfg" || exit 1
	trap 'kill ${BG_PIDS:-} 2>/dev/null || true' EXIT
	AK=AKIAGWCURLDEMO000001
	SK=$(cat "$(dirname "$cfg")/demo-secrets/aws-secret-access-key") || exit 1
	# Keys in the environment only; the machine's AWS setup stays out.
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION
	export GWCURL_CONFIG=$OUT/all-empty.yaml AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=us-east-1
	: >"$GWCURL_CONFIG"
	set -e
	# Every contender must really pass (the gateway verifies the signatures).
	"$GW" -s -f GET "$GATEWAY/public/echo" >/dev/null
	curl -s -f "$GATEWAY/public/echo" >/dev/null
	"$GW" -s -f --auth sigv4 --service lambda GET "$GATEWAY/aws/echo" >/dev/null
	curl -s -f --aws-sigv4 aws:amz:us-east-1:lambda --user "$AK:$SK" "$GATEWAY/aws/echo" >/dev/null
	hyperfine -N --warmup 20 --runs "${RUNS:-100}" --export-json "$OUT/all-startup.json" \
		"$GW -s GET $GATEWAY/public/echo" \
		"curl -s $GATEWAY/public/echo" \
		"$GW -s --auth sigv4 --service lambda GET $GATEWAY/aws/echo" \
		"curl -s --aws-sigv4 aws:amz:us-east-1:lambda --user $AK:$SK $GATEWAY/aws/echo" >&2
	echo "start-up, no auth, gwcurl GET / curl GET (medians): $(median_ratio "$OUT/all-startup.json" 0 1)"
	echo "start-up, SigV4 GET (keys in the environment), gwcurl / curl --aws-sigv4 (medians): $(median_ratio "$OUT/all-startup.json" 2 3)"
	# The same four commands interleaved round by round (bench/interleave.py):
	# wall and CPU medians that outside load skews less than hyperfine's.
	python3 "$BENCH_DIR/interleave.py" "${RUNS:-100}" \
		"$GW -s GET $GATEWAY/public/echo" \
		"curl -s $GATEWAY/public/echo" \
		"$GW -s --auth sigv4 --service lambda GET $GATEWAY/aws/echo" \
		"curl -s --aws-sigv4 aws:amz:us-east-1:lambda --user $AK:$SK $GATEWAY/aws/echo" >"$OUT/all-interleaved.txt"
	awk 'NR <= 4 {w[NR] = $1; c[NR] = $2} END {
		printf "start-up, interleaved rounds, no auth: wall %.2f / %.2f ms = %.3f, CPU %.2f / %.2f ms = %.3f\n", w[1], w[2], w[1] / w[2], c[1], c[2], c[1] / c[2]
		printf "start-up, interleaved rounds, SigV4: wall %.2f / %.2f ms = %.3f, CPU %.2f / %.2f ms = %.3f\n", w[3], w[4], w[3] / w[4], c[3], c[4], c[3] / c[4]
	}' "$OUT/all-interleaved.txt"
	python3 - "$OUT/all-startup.json" "$OUT/" "$SK" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].replace(sys.argv[2], "").replace(sys.argv[3], "…")
    print(f"  {r['median']*1000:6.2f} ms median, user {r['user']*1000:5.1f} ms, sys {r['system']*1000:5.1f} ms: {cmd[:100]}")
PY
)

# part NAME CMD...: runs one part, its report on stdout and in $LOG/NAME.log.
part() {
	local name=$1
	shift
	if [[ " ${SKIP:-} " == *" $name "* ]]; then
		echo "skipped (SKIP)" >"$LOG/$name.log"
		return
	fi
	echo
	echo "== $name: $*"
	local t0=$SECONDS
	"$@" >"$LOG/$name.log" 2>"$LOG/$name.err"
	local rc=$?
	cat "$LOG/$name.log"
	if ((rc != 0)); then
		echo "FAILED (exit $rc); last lines of $LOG/$name.err:"
		tail -5 "$LOG/$name.err" | sed 's/^/  /'
		echo "failed" >>"$LOG/$name.log"
	fi
	echo "($name: $((SECONDS - t0)) s)"
}

part startup startup
part startup_floor env RUNS="${FLOOR_RUNS:-50}" "$BENCH_DIR/startup_floor.sh"
part gateway "$BENCH_DIR/gateway.sh" "$DURATION"
part sigv4 env RUNS=30 UPLOAD_RUNS=3 "$BENCH_DIR/sigv4.sh"
part upload_hash env ROUNDS="${UPLOAD_ROUNDS:-3}" "$BENCH_DIR/upload_hash.sh"
part s3stream "$BENCH_DIR/s3stream.sh"
part google env RUNS=100 "$BENCH_DIR/google.sh"
part run env N="${N:-500}" RUNS=3 "$BENCH_DIR/run.sh"
part edge "$BENCH_DIR/edge.sh" "$DURATION"

# ---- 4. the table ----
# num FILE REGEX [UNIT]: the number before UNIT (default req/s) on the first
# line of FILE matching REGEX; "" when there is none.
num() {
	grep -E -m1 -- "$2" "$1" 2>/dev/null | grep -oE "[0-9][0-9,.]*\s*${3:-req/s}" | head -1 | grep -oE '^[0-9][0-9,.]*' | tr -d ,
}
# ratio FILE REGEX: the "= R" at the end of a median_ratio line.
ratio() { grep -E -m1 -- "$2" "$1" 2>/dev/null | grep -oE '= [0-9.]+' | head -1 | cut -c3-; }
div() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# row FIGURE VALUE TARGET OP LIMIT [NOTE]
row() {
	local v=$2 verdict="—"
	[[ -n $v ]] && verdict=$(awk -v v="$v" -v op="$4" -v l="$5" 'BEGIN {ok = (op == "<=") ? v <= l : v >= l; print ok ? "PASS" : "FAIL"}')
	printf '| %s | %s | %s | %s |\n' "$1" "${v:-—}${6:+ ($6)}" "$3" "$verdict"
}

S=$LOG/startup.log G=$LOG/gateway.log U=$LOG/sigv4.log H=$LOG/upload_hash.log M=$LOG/s3stream.log
PUB=$(num "$G" '/public/echo')
NGX=$(num "$G" 'nginx static')
ADM=$(num "$G" '/admin/echo')
AWS=$(num "$G" '/aws/echo')
# bench/upload_hash.sh's summary line: "wall ratio gwcurl/(sha256sum+curl)
# (medians) = R (target <= 1.1); gwcurl peak RSS N MiB (target <= 32 MiB)".
UP_LINE='wall ratio gwcurl/\(sha256sum\+curl\)'
UP_R=$(ratio "$H" "$UP_LINE")
RSS=$(num "$H" "$UP_LINE" 'MiB')

echo
echo "== issue 21 table — $MACHINE"
echo "| figure | measured | target | verdict |"
echo "|---|---|---|---|"
# ilv FILE REGEX: "interleaved wall R, CPU R" from an interleaved line.
ilv() { grep -E -m1 -- "$2" "$1" 2>/dev/null | grep -oE '= [0-9.]+' | cut -c3- | paste -sd' ' | awk 'NF == 2 {printf "interleaved: wall %s, CPU %s", $1, $2}'; }
# floor: the CPU ratio to curl of a Go GET program with only the named
# dependencies (bench/startup_floor.sh's "named" line), beside the start-up
# rows: a start-up target under it is out of reach for any Go program with
# them on this machine.
FLOOR=$(awk '$1 == "named" {print $5}' "$LOG/startup_floor.log" 2>/dev/null)
# with_floor NOTE: NOTE, then the floor when there is one.
with_floor() {
	local f=${FLOOR:+floor, a Go GET with only the named dependencies: CPU $FLOOR × curl}
	printf '%s%s%s' "$1" "${1:+${f:+; }}" "$f"
}
row '`gwcurl GET` / `curl GET`, no auth, same local origin (hyperfine median)' "$(ratio "$S" 'no auth, gwcurl')" '≤ 1.0' '<=' 1.0 "$(with_floor "$(ilv "$S" 'interleaved rounds, no auth')")"
row '`gwcurl` SigV4 GET / `curl --aws-sigv4` GET (hyperfine median)' "$(ratio "$S" 'SigV4 GET')" '≤ 1.1' '<=' 1.1 "$(with_floor "$(ilv "$S" 'interleaved rounds, SigV4')")"
row 'gateway `/public/echo` req/s / nginx static (hey -c 50)' "$(div "$PUB" "$NGX")" '≥ 0.8' '>=' 0.8 "${PUB:+$PUB / $NGX req/s}"
row 'gateway `/admin/echo` (CF service token) req/s' "$ADM" '≥ 10,000' '>=' 10000
row 'gateway `/admin/echo` / `/public/echo`' "$(div "$ADM" "$PUB")" '≥ 0.7' '>=' 0.7
row 'gateway `/aws/echo` (SigV4 verified) / `/public/echo`' "$(div "$AWS" "$PUB")" '≥ 0.7' '>=' 0.7 "${AWS:+$AWS req/s}"
row '1 GiB signed upload (full hash) wall / (`sha256sum` + `curl -T`)' "$UP_R" '≤ 1.1' '<=' 1.1 "$(grep -m1 -oE 'of [0-9]+ MiB' "$H" 2>/dev/null)"
row '1 GiB signed upload peak RSS, MiB' "$RSS" '≤ 32' '<=' 32
echo
echo "== existing figures"
grep -hE '^(start-up floor|floor:|  )' "$LOG/startup_floor.log" 2>/dev/null | sed 's/^/  /'
grep -hE 'nginx directly|through (Go|nginx|the gateway)|added by ' "$G" 2>/dev/null | sed 's/^ */  gateway latency: /'
grep -hE 'gwcurl / python|signed upload of' "$U" 2>/dev/null | sed 's/^/  sigv4.sh: /'
grep -hE '^  (gwcurl -T|sha256sum|curl -T)' "$H" 2>/dev/null | sed 's/^ */  full-hash upload: /'
grep -hE 'wall ratio|gwcurl -T' "$M" 2>/dev/null | sed 's/^ */  s3 streaming: /'
grep -hE 'google ID token' "$LOG/google.log" 2>/dev/null | sed 's/^/  /'
grep -hE 'gwcurl run' "$LOG/run.log" 2>/dev/null | sed 's/^/  /'
grep -hE 'req/s' "$LOG/edge.log" 2>/dev/null | sed 's/^ */  edge: /'
echo
echo "load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - START)) s; logs in $LOG"
