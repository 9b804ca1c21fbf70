#!/usr/bin/env bash
# Reads perf_analyzer's output the way Triton Model Analyzer (MA) does
# (spec 08 §2), so end-to-end cases can prove MA would accept it.
#
#   ma_csv_check.sh CSV [--metrics]
#       Parses the -f file like MA's perf_analyzer.py: a header-keyed CSV
#       reader, every data row converted (the last row wins), columns looked
#       up by exact header name, latencies µs -> ms, GPU cells
#       "uuid:value;uuid:value;" with utilization /0.01 -> %, memory
#       bytes -> MB and free memory = total - used of the same UUID.
#       Prints the parsed record, one "metric [uuid] value unit" per line.
#       Where MA would silently skip a column or crash on a cell, this
#       fails instead (non-zero exit, "ma_csv_check: ..." on stderr): a
#       column MA reads that is missing or misnamed, a cell that is not a
#       finite number, a row with the wrong number of fields, a malformed
#       GPU cell. --metrics: the run had --collect-metrics, so the four GPU
#       columns must be there and hold data.
#
#   ma_csv_check.sh --outcome EXIT_CODE OUTPUT_FILE...
#       MA's verdict on a finished run from its exit code and its merged
#       stdout+stderr (MA points both at one file and only searches it):
#       prints "success", "retry" (exit > 0 and the text holds one of the
#       two substrings that make MA enlarge the window and run again) or
#       "failure". Fails if the text is not valid UTF-8 (MA decodes it and
#       would raise).
#
# Pure bash + awk (mawk-compatible: no gawk extensions).
set -uo pipefail

die() { echo "ma_csv_check: $*" >&2; exit 1; }

usage() {
    echo "usage: ma_csv_check.sh CSV [--metrics]" >&2
    echo "       ma_csv_check.sh --outcome EXIT_CODE OUTPUT_FILE..." >&2
    exit 2
}

# --- the exit status / output side (spec 08 §2.2) -----------------------
outcome() {
    [ $# -ge 2 ] || usage
    local rc=$1 f
    shift
    case $rc in '' | *[!0-9]*) die "exit code '$rc' is not a number" ;; esac
    for f in "$@"; do
        [ -f "$f" ] || die "$f: no such output file"
        # MA reads its log file back with .decode('utf-8'): invalid bytes
        # raise an exception in MA instead of giving any verdict.
        iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 ||
            die "$f: output is not valid UTF-8 (MA's decode would raise)"
    done
    if [ "$rc" -eq 0 ]; then
        echo success
    elif [ "$rc" -ge 128 ]; then
        # a shell reports death by signal n as 128+n; MA sees a negative
        # return code and gives up without looking at the text
        echo failure
    elif cat "$@" | grep -q -e 'Failed to obtain stable measurement' \
        -e 'Please use a larger time window'; then
        echo retry
    else
        echo failure
    fi
    exit 0
}

[ $# -ge 1 ] || usage
if [ "$1" = --outcome ]; then
    shift
    outcome "$@"
fi

csv=$1
shift
metrics=0
while [ $# -gt 0 ]; do
    case $1 in
        --metrics) metrics=1 ;;
        *) usage ;;
    esac
    shift
done

# MA r23.10 opens the file unconditionally after exit 0 (an exception if
# it is missing); MA main waits 2 s and then counts the run as failed.
[ -f "$csv" ] || die "$csv: missing (MA opens it after every exit 0)"
[ -s "$csv" ] || die "$csv: empty file"

# --- the CSV side (spec 08 §2.1) ---------------------------------------
# shellcheck disable=SC2016
awk -v metrics="$metrics" -v file="$csv" '
function fail(msg) { printf "ma_csv_check: %s: %s\n", file, msg > "/dev/stderr"; bad = 1 }

# What Python float() accepts, minus the spellings our CSV must never
# contain (inf/nan, underscores, surrounding blanks).
function is_number(s) { return s ~ /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/ }

function norm(s) { s = tolower(s); gsub(/[ \t]+/, "", s); return s }

BEGIN {
    # perf_metric_table of MA: metric tag, header, divisor, unit.
    np = 0
    P[++np] = "perf_latency_avg|Avg latency|1000|ms"
    P[++np] = "perf_latency_p90|p90 latency|1000|ms"
    P[++np] = "perf_latency_p95|p95 latency|1000|ms"
    P[++np] = "perf_latency_p99|p99 latency|1000|ms"
    P[++np] = "perf_throughput|Inferences/Second|1|infer/sec"
    P[++np] = "perf_client_send_recv|request/response|1000|ms"
    P[++np] = "perf_client_send_recv|send/recv|1000|ms"
    P[++np] = "perf_client_response_wait|response wait|1000|ms"
    P[++np] = "perf_server_queue|Server Queue|1000|ms"
    P[++np] = "perf_server_compute_infer|Server Compute Infer|1000|ms"
    P[++np] = "perf_server_compute_input|Server Compute Input|1000|ms"
    P[++np] = "perf_server_compute_output|Server Compute Output|1000|ms"
    # gpu_metric_table of MA.
    ng = 0
    G[++ng] = "gpu_utilization|Avg GPU Utilization|0.01|%"
    G[++ng] = "gpu_power_usage|Avg GPU Power Usage|1|W"
    G[++ng] = "gpu_used_memory|Max GPU Memory Usage|1000000|MB"
    G[++ng] = "gpu_free_memory|Total GPU Memory|1000000|MB"
    # Columns a --verbose-csv run against Triton must have. "send/recv" is
    # the legacy name MA still accepts; we write "request/response".
    split("Inferences/Second|Avg latency|p90 latency|p95 latency|p99 latency|request/response|response wait|Server Queue|Server Compute Input|Server Compute Infer|Server Compute Output", need, "|")
    split("Avg GPU Utilization|Avg GPU Power Usage|Max GPU Memory Usage|Total GPU Memory", needg, "|")
    rows = 0; bad = 0
}

# Python opens the file with universal newlines: a CRLF line is a line.
{ sub(/\r$/, "") }

index($0, "\"") { if (NR > 1) rows++; fail("line " NR ": a quoted field; our CSV never quotes, and MA would unquote it"); next }

NR == 1 && $0 == "" { fail("the header line is empty"); exit 1 }

NR == 1 {
    nh = split($0, H, ",")
    for (i = 1; i <= nh; i++) {
        if (H[i] == "") fail("header field " i " is empty")
        if (H[i] in col) fail("header \"" H[i] "\" appears twice (MA keeps only the last)")
        col[H[i]] = i
        lc[norm(H[i])] = H[i]
    }
    for (i = 1; i in need; i++) require(need[i])
    if (metrics) for (i = 1; i in needg; i++) require(needg[i])
    next
}

# csv.DictReader skips blank rows.
$0 == "" { next }

{
    rows++
    n = split($0, F, ",")
    # fewer fields: MA reads None and float(None) raises; more: the
    # extra cells land under key None - either way the file is broken
    if (n != nh) { fail("row " rows " has " n " fields, the header " nh); next }
    for (i = 1; i <= np; i++) {
        split(P[i], p, "|")
        if (!(p[2] in col)) continue
        v = F[col[p[2]]]
        if (v ~ /^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$/)
            fail("row " rows ", \"" p[2] "\": \"" v "\" is not a finite number (MA would store it)")
        else if (!is_number(v))
            fail("row " rows ", \"" p[2] "\": \"" v "\" is not a number (MA float() would raise)")
        else
            last[p[2]] = v
    }
    for (i = 1; i <= ng; i++) {
        split(G[i], g, "|")
        if (g[2] in col) gpu_cell(g[2], F[col[g[2]]])
    }
}

function require(h) {
    if (h in col) return
    if (norm(h) in lc)
        fail("column \"" lc[norm(h)] "\" is misnamed: MA looks up exactly \"" h "\"")
    else if (h == "request/response" && ("send/recv" in col))
        return
    else
        fail("column \"" h "\" is missing (MA would silently skip its metric)")
}

# One GPU cell: "uuid:value;" per GPU, every entry followed by ";" (the
# original writes it so, MA strips one trailing ";"); empty = no data.
function gpu_cell(h, s,    k, m, e, parts, nparts, seen) {
    gcell[h] = s
    if (s == "") {
        if (metrics) fail("row " rows ", \"" h "\": empty although --collect-metrics was given")
        return
    }
    if (s !~ /;$/) fail("row " rows ", \"" h "\": \"" s "\" does not end with \";\"")
    sub(/;$/, "", s)
    m = split(s, e, ";")
    for (k = 1; k <= m; k++) {
        nparts = split(e[k], parts, ":")
        if (e[k] == "")
            { fail("row " rows ", \"" h "\": empty entry (MA would raise IndexError)"); continue }
        if (nparts != 2)
            { fail("row " rows ", \"" h "\": entry \"" e[k] "\" is not uuid:value"); continue }
        if (parts[1] == "")
            { fail("row " rows ", \"" h "\": entry \"" e[k] "\" has an empty UUID"); continue }
        if (!is_number(parts[2]))
            { fail("row " rows ", \"" h "\": value \"" parts[2] "\" of " parts[1] " is not a number"); continue }
        if ((parts[1] SUBSEP h) in seen)
            fail("row " rows ", \"" h "\": UUID " parts[1] " appears twice")
        seen[parts[1] SUBSEP h] = 1
        if (h == "Avg GPU Utilization" && (parts[2] + 0 < 0 || parts[2] + 0 > 1))
            fail("row " rows ", \"" h "\": " parts[2] " is not a fraction 0..1 (MA multiplies by 100)")
        if ((h == "Max GPU Memory Usage" || h == "Total GPU Memory") && parts[2] !~ /^[0-9]+$/)
            fail("row " rows ", \"" h "\": " parts[2] " is not a whole number of bytes")
    }
}

# Prints one converted GPU column of the last row; free memory is total
# minus the used memory of the same UUID, and a total without a used
# entry is dropped - both as MA _cleanup_gpu_records does.
function gpu_print(tag, h, div, unit,    s, m, e, k, parts, v) {
    s = gcell[h]
    if (s == "") return
    sub(/;$/, "", s)
    m = split(s, e, ";")
    for (k = 1; k <= m; k++) {
        if (split(e[k], parts, ":") != 2) continue
        v = parts[2] / div
        if (tag == "gpu_free_memory") {
            if (!(parts[1] in used)) { printf "ma_csv_check: %s: note: MA drops the total memory of %s (no used-memory entry)\n", file, parts[1] > "/dev/stderr"; continue }
            if (v < used[parts[1]]) fail("GPU " parts[1] ": used memory exceeds total memory")
            v -= used[parts[1]]
        }
        if (tag == "gpu_used_memory") used[parts[1]] = v
        printf "%s %s %.10g %s\n", tag, parts[1], v, unit
    }
}

END {
    if (bad) exit 1
    if (NR == 0) { fail("no header line"); exit 1 }
    if (rows == 0) fail("no data row (MA would record nothing for the model)")
    if (bad) exit 1
    if (rows > 1)
        printf "ma_csv_check: %s: note: %d data rows, MA keeps only the last\n", file, rows > "/dev/stderr"
    # sanity of the values MA stores (last row)
    if (last["Inferences/Second"] + 0 <= 0) fail("Inferences/Second is not positive")
    if (("p90 latency" in last) && ("p95 latency" in last) && ("p99 latency" in last) &&
        !(last["p90 latency"] + 0 <= last["p95 latency"] + 0 && last["p95 latency"] + 0 <= last["p99 latency"] + 0))
        fail("percentiles are not ordered: p90 " last["p90 latency"] " p95 " last["p95 latency"] " p99 " last["p99 latency"])
    for (i = 1; i <= np; i++) {
        split(P[i], p, "|")
        if (p[2] in last) printf "%s %.10g %s\n", p[1], last[p[2]] / p[3], p[4]
    }
    for (i = 1; i <= ng; i++) {
        split(G[i], g, "|")
        gpu_print(g[1], g[2], g[3], g[4])
    }
    exit bad
}
' "$csv"
