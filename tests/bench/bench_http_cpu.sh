#!/usr/bin/env bash
# Client CPU per completed request of perf_analyzer over HTTP, at
# concurrency 8, sync (8 worker threads, 1 request each) and async
# (--max-threads workers, several in flight each), against the reference
# server (tests/servers/pa-test-server).
#
#   tests/bench/bench_http_cpu.sh [build_dir] [window_ms] [runs]
#
# Environment: PA_BENCH_MODEL (simple), PA_BENCH_DELAY_MS (server compute
# delay, default 0), PA_BENCH_MODES ("sync async"), PA_BENCH_ARGS (extra
# perf_analyzer arguments), PA_BENCH_WRK (1 = also run wrk when installed,
# default 1; only for model "simple").
#
# The wrk rows calibrate the machine: wrk is a lean C load generator, so its
# cost under the same load shape is what the kernel and the loopback TCP
# stack charge per request here (wrk -t8 -c8 = one request per thread like
# sync; -t4 -c8 = two per thread like async with the default --max-threads
# 4; -t2 -c8 = wrk at its best). Compare against them, not across runs.
#
# Per run it prints, for the perf_analyzer process as a whole (all threads,
# start-up included):
#   requests   successful inferences the server counted during the run
#              (GET /v2/models/<model>/stats before and after)
#   cpu_us/req user + system CPU (/usr/bin/time) / requests
#   req/s      requests / wall time of the run
#   sys/req    system calls / requests            } with `perf stat` on the
#   cs/req     context switches / requests        } syscall tracepoints; these
#   top calls  the most frequent system calls     } do not depend on how busy
#                                                   the machine is
# CPU time on a shared machine is an upper bound that varies with the load of
# the other processes; the system-call count is the stable figure. Nothing
# is asserted: the script fails only when something cannot run at all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
window_ms=${2:-2000}
runs=${3:-1}
model=${PA_BENCH_MODEL:-simple}
delay_ms=${PA_BENCH_DELAY_MS:-0}
modes=${PA_BENCH_MODES:-sync async}
use_wrk=${PA_BENCH_WRK:-1}
[ "$model" = simple ] || use_wrk=0
command -v wrk >/dev/null 2>&1 || use_wrk=0
read -r -a extra <<<"${PA_BENCH_ARGS:-}"

pa=$build/src/perf_analyzer
[ -x "$pa" ] || { echo "bench: no perf_analyzer at $pa (build it first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed" >&2; exit 1; }

# System calls worth naming in the breakdown (those a request loop makes).
calls="poll ppoll epoll_wait epoll_ctl sendto sendmsg writev write recvfrom recvmsg read
       futex clock_nanosleep nanosleep sched_yield getsockopt setsockopt"
have_perf=0
if command -v perf >/dev/null 2>&1 &&
    perf stat -e raw_syscalls:sys_enter -o /dev/null -- true >/dev/null 2>&1; then
    have_perf=1
fi

# shellcheck source=lib.sh
. "$root/tests/bench/lib.sh"
server_args=(--metrics-port -1)
[ "$delay_ms" != 0 ] && server_args+=(--delay-ms "$delay_ms")
bench_server_start "$build" "${server_args[@]}"
tmp=$BENCH_TMP
url=127.0.0.1:$PA_HTTP_PORT

events=raw_syscalls:sys_enter,context-switches
for c in $calls; do
    [ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$c" ] ||
        [ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$c" ] ||
        perf list "syscalls:sys_enter_$c" 2>/dev/null | grep -q "sys_enter_$c" || continue
    events+=",syscalls:sys_enter_$c"
done

printf '%-7s %9s %11s %9s %8s %7s  %s\n' mode requests cpu_us/req req/s sys/req cs/req \
    'top calls per request'
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}'
wrk.headers["Content-Type"] = "application/json"
EOF
wrk_secs=$(( (window_ms * 3 + 999) / 1000 ))
rows=$modes
[ "$use_wrk" = 1 ] && rows="$rows wrk-t8 wrk-t4 wrk-t2"

for run in $(seq 1 "$runs"); do
    for mode in $rows; do
        before=$(bench_server_count "$model")
        start=$(date +%s.%N)
        case $mode in
        wrk-t*)
            cmd=(/usr/bin/time -f '%U %S' -o "$tmp/time"
                 wrk "-t${mode#wrk-t}" -c 8 -d "${wrk_secs}s" -s "$tmp/post.lua"
                 "http://$url/v2/models/$model/infer") ;;
        *)
            cmd=(/usr/bin/time -f '%U %S' -o "$tmp/time"
                 "$pa" -m "$model" -u "$url" --concurrency-range 8 "--$mode" -p "$window_ms"
                 "${extra[@]}") ;;
        esac
        # Exit status is reported, not fatal: an unstable run still did the work.
        set +e
        if [ $have_perf = 1 ]; then
            perf stat -x, -e "$events" -o "$tmp/perf" -- "${cmd[@]}" \
                >"$tmp/out.$mode" 2>"$tmp/err.$mode"
        else
            : >"$tmp/perf"
            "${cmd[@]}" >"$tmp/out.$mode" 2>"$tmp/err.$mode"
        fi
        rc=$?
        set -e
        end=$(date +%s.%N)
        after=$(bench_server_count "$model")
        # /usr/bin/time writes "Command exited with non-zero status N" first on failure.
        read -r user sys < <(tail -n 1 "$tmp/time")
        python3 - "$mode" "$before" "$after" "$user" "$sys" "$start" "$end" "$rc" \
            "$tmp/perf" <<'PY'
import sys
mode, before, after, user, sys_, start, end, rc, perf = sys.argv[1:]
n = int(after) - int(before)
cpu = float(user) + float(sys_)
wall = float(end) - float(start)
per = cpu * 1e6 / n if n else float("nan")
counts = {}
for line in open(perf):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        counts[f[2]] = float(f[0])
def per_req(key):
    return counts[key] / n if n and key in counts else float("nan")
top = sorted(((v, k.split("sys_enter_")[1]) for k, v in counts.items()
              if "sys_enter_" in k and v), reverse=True)[:6]
tops = " ".join(f"{name}={v / n:.2f}" for v, name in top) if n else ""
print(f"{mode:<7} {n:>9} {per:>11.1f} {n / wall:>9.0f} {per_req('raw_syscalls:sys_enter'):>8.2f}"
      f" {per_req('context-switches'):>7.2f}  {tops}"
      + ("" if rc == "0" else f"   (exit status {rc})"))
PY
    done
done
