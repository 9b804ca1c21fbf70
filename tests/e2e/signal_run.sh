#!/usr/bin/env bash
# Runs perf_analyzer in the background, waits until its stdout shows a
# given line, sends a signal (to perf_analyzer, or to another process such
# as the reference server), and waits for perf_analyzer with a hard bound.
# Used by the fault_*.case and signal_*.case end-to-end cases, whose faults
# must happen at a known point of the run (e.g. during level 3).
#
# Usage: signal_run.sh [options] -- PERF_ANALYZER [ARGS...]
#   -d DIR    run in DIR, stdout/stderr to DIR/stdout.txt, DIR/stderr.txt
#             (default: the current directory)
#   -w LINE   wait until a stdout line equals LINE (e.g. "Request
#             concurrency: 2") before signalling; without -w, signal at once
#   -a SECS   then wait SECS more (default 0; fractions allowed)
#   -s SIG    signal to send (default INT); "none": send nothing, only
#             bound the run (-t then counts from the start)
#   -p PID    send it to PID instead of perf_analyzer (kill the server)
#   -r SECS   send the same signal again SECS after the first (the "second
#             Ctrl-C"); only to perf_analyzer
#   -W SECS   bound for LINE to appear (default 60)
#   -t SECS   hard bound for perf_analyzer to end after the signal
#             (default 60); past it perf_analyzer is killed (SIGKILL)
#
# Exit status: perf_analyzer's own, or
#   123  perf_analyzer's stderr holds a sanitizer report (ASan, UBSan,
#        LSan, TSan): a crash-class failure even when the exit code is 0
#   124  perf_analyzer did not end within -t seconds after the signal (hang)
#   125  LINE never appeared (perf_analyzer ended first, or -W expired);
#        no signal was sent
#   126  usage error
# The last line on our stdout is "signal_run: exit RC after N ms" (counted
# from the signal) so that a case log shows how long the shutdown took.
# Just before the signal, perf_analyzer's /proc/PID/maps is saved as
# DIR/maps.txt: the shared-memory regions it had mapped (name and inode).
#
# Sourced from a case file (run_case.sh), it only defines sr_* functions
# for CHECK; see the library part below.
#
# Only the perf_analyzer started here (and -p PID) is ever signalled.

# --- library part (sourced by tests/cases/fault_*.case, signal_*.case) ------
# Uses run_case.sh's $pa and $OUT_DIR. Every sr_check_* prints why it fails,
# with the run's output, and returns non-zero.

SR_SELF=${BASH_SOURCE[0]}

# sr_run [signal_run options] -- PERF_ANALYZER_ARGS...
# Runs perf_analyzer (as "perf_analyzer", like run_case.sh) through this
# script in $OUT_DIR/run; sets SR_RC, SR_DIR, SR_OUT, SR_ERR.
sr_run() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    SR_DIR=$OUT_DIR/run
    mkdir -p "$SR_DIR"
    SR_OUT=$SR_DIR/stdout.txt
    SR_ERR=$SR_DIR/stderr.txt
    echo "+ signal_run.sh ${opts[*]} -- perf_analyzer $*"
    PATH="$(dirname "$pa"):$PATH" bash "$SR_SELF" -d "$SR_DIR" "${opts[@]}" -- perf_analyzer "$@" \
        | tee "$SR_DIR/signal_run.txt"
    SR_RC=${PIPESTATUS[0]}
}

# perf_analyzer ended less than MS milliseconds after the signal.
sr_check_ended_within() { # ms
    local ms
    ms=$(sed -n 's/^signal_run: exit [0-9]* after \([0-9]*\) ms$/\1/p' "$SR_DIR/signal_run.txt")
    [ -n "$ms" ] && [ "$ms" -lt "$1" ] || sr_fail "ended ${ms:-?} ms after the signal, bound $1 ms"
}

sr_fail() {
    echo "FAIL: $*"
    echo "--- run stdout"; head -60 "$SR_OUT"
    echo "--- run stderr"; head -30 "$SR_ERR"
    [ -f "$SR_DIR/out.csv" ] && { echo "--- run out.csv"; cat "$SR_DIR/out.csv"; }
    return 1
}

sr_check_exit() { # expected
    local why=""
    case $SR_RC in
        123) why=" (sanitizer report on stderr)" ;;
        124) why=" (perf_analyzer hung: killed at the bound)" ;;
        125) why=" (the awaited stdout line never appeared)" ;;
    esac
    [ "$SR_RC" = "$1" ] || sr_fail "exit code $SR_RC$why, expected $1"
}

# The first stderr line that is not a warning (a window with one request
# warns before the failure is seen, as the original does).
sr_check_first_err() { # exact line
    local first
    first=$(grep -v '^WARNING: ' "$SR_ERR" | head -1)
    [ "$first" = "$1" ] || sr_fail "first stderr line is '$first', expected '$1'"
}

sr_check_line() { # file exact-line
    grep -qxF -- "$2" "$1" || sr_fail "no line '$2' in $(basename "$1")"
}

sr_check_no_line() { # file exact-line
    ! grep -qxF -- "$2" "$1" || sr_fail "unexpected line '$2' in $(basename "$1")"
}

sr_check_match() { # file extended-regex (some line matches)
    grep -qE -- "$2" "$1" || sr_fail "no line matching '$2' in $(basename "$1")"
}

sr_check_count() { # file exact-line count
    local n
    n=$(grep -cxF -- "$2" "$1")
    [ "$n" = "$3" ] || sr_fail "'$2' appears $n times in $(basename "$1"), expected $3"
}

# The CSV (DIR/out.csv) holds exactly these levels (first column; its rows
# are sorted by throughput, so the levels are compared as a sorted list).
sr_check_csv_levels() { # level...
    local want got
    [ -f "$SR_DIR/out.csv" ] || { sr_fail "out.csv was not written"; return 1; }
    want=$(printf '%s\n' "$@" | sort -n | tr '\n' ' ')
    got=$(tail -n +2 "$SR_DIR/out.csv" | cut -d, -f1 | sort -n | tr '\n' ' ')
    [ "$want" = "$got" ] || sr_fail "CSV levels are '$got', expected '$want'"
}

# The profile export (DIR/exp.json) starts with these levels, each with
# requests; a level interrupted by the signal may follow (it was measured).
sr_check_export_levels() { # level...
    python3 - "$SR_DIR/exp.json" "$@" <<'PY' || sr_fail "profile export check failed"
import json, sys
path, want = sys.argv[1], [int(v) for v in sys.argv[2:]]
try:
    doc = json.load(open(path))
except (OSError, ValueError) as e:
    sys.exit(f"cannot read {path}: {e}")
exps = doc["experiments"]
got = [e["experiment"]["value"] for e in exps]
if got[:len(want)] != want or len(got) > len(want) + 1:
    sys.exit(f"export levels {got}, expected {want} (+ at most the interrupted one)")
for e in exps[:len(want)]:
    if not e["requests"]:
        sys.exit(f"level {e['experiment']['value']} has no requests in the export")
PY
}

# Every shared-memory region perf_analyzer had mapped (maps.txt, taken just
# before the signal) is gone from /dev/shm. Regions are matched by name AND
# inode: other runs (other build trees) use the same names at the same time.
# A region of ours still there is reported, then removed.
sr_check_shm_unlinked() {
    local n=0 left="" ino name cur
    [ -f "$SR_DIR/maps.txt" ] || { sr_fail "no maps.txt taken"; return 1; }
    while read -r ino name; do
        n=$((n + 1))
        cur=$(stat -c %i "/dev/shm/$name" 2>/dev/null) || continue
        if [ "$cur" = "$ino" ]; then
            left="$left $name"
            rm -f "/dev/shm/$name"
        fi
    done < <(awk '$6 ~ "^/dev/shm/" { sub("^/dev/shm/", "", $6); print $5, $6 }' \
                 "$SR_DIR/maps.txt" | sort -u)
    [ "$n" -gt 0 ] || { sr_fail "perf_analyzer had no /dev/shm region mapped"; return 1; }
    [ -z "$left" ] || sr_fail "left in /dev/shm:$left"
}

# The server (still running) has no system shared-memory region registered.
sr_check_shm_unregistered() {
    local st
    st=$(curl -sf "http://127.0.0.1:$PA_HTTP_PORT/v2/systemsharedmemory/status")
    [ "$st" = "[]" ] || sr_fail "regions still registered with the server: $st"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    return 0
fi

# --- script part -------------------------------------------------------------
set -uo pipefail

dir=. wait_line="" after=0 sig=INT target="" again="" wait_bound=60 bound=60
usage() { sed -n '2,37p' "$0" >&2; exit 126; }
while getopts "d:w:a:s:p:r:W:t:" opt; do
    case $opt in
        d) dir=$OPTARG ;;
        w) wait_line=$OPTARG ;;
        a) after=$OPTARG ;;
        s) sig=$OPTARG ;;
        p) target=$OPTARG ;;
        r) again=$OPTARG ;;
        W) wait_bound=$OPTARG ;;
        t) bound=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || usage

out=$dir/stdout.txt
err=$dir/stderr.txt
: >"$out"
# exec: the pid we hold is perf_analyzer itself, not a subshell
(cd "$dir" && exec "$@" >"$out" 2>"$err") &
pid=$!

alive() { kill -0 "$pid" 2>/dev/null; }

# Kills perf_analyzer (and only it) if it outlives the bound.
finish() { # bound_secs t0
    local deadline rc now
    deadline=$(($(date +%s%N) + $1 * 1000000000))
    while alive; do
        if [ "$(date +%s%N)" -ge "$deadline" ]; then
            echo "signal_run: perf_analyzer still running ${1}s after the signal: killed"
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 0.1
    done
    wait "$pid"
    rc=$?
    now=$(date +%s%N)
    echo "signal_run: exit $rc after $(((now - $2) / 1000000)) ms"
    if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$err"; then
        echo "signal_run: sanitizer report on stderr"
        return 123
    fi
    return "$rc"
}

if [ -n "$wait_line" ]; then
    deadline=$(($(date +%s%N) + wait_bound * 1000000000))
    until grep -qxF -- "$wait_line" "$out"; do
        if ! alive || [ "$(date +%s%N)" -ge "$deadline" ]; then
            echo "signal_run: '$wait_line' never appeared on stdout; no signal sent"
            alive && kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            exit 125
        fi
        sleep 0.05
    done
fi
[ "$after" != 0 ] && sleep "$after"

cp "/proc/$pid/maps" "$dir/maps.txt" 2>/dev/null
t0=$(date +%s%N)
if [ "$sig" = none ]; then
    :
elif [ -n "$target" ]; then
    kill -"$sig" "$target" || echo "signal_run: could not signal $target"
else
    kill -"$sig" "$pid" 2>/dev/null || echo "signal_run: perf_analyzer had already ended"
fi
if [ -n "$again" ] && [ "$sig" != none ]; then
    sleep "$again"
    kill -"$sig" "$pid" 2>/dev/null || echo "signal_run: perf_analyzer had already ended"
fi
finish "$bound" "$t0"
