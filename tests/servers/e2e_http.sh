#!/usr/bin/env bash
# End-to-end test of pa-test-server's HTTP front end with curl: every
# endpoint, binary and JSON tensors, compression, errors, sequences,
# statistics, system and (fake) CUDA shared memory, metrics and the knobs.
# Usage: e2e_http.sh <build_dir>
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: e2e_http.sh <build_dir>}
# shellcheck source=server_ctl.sh
. "$here/server_ctl.sh"
helper="python3 $here/e2e_helper.py"
cudart=$build/tests/servers/fake_cudart/libcudart.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa-e2e.XXXXXX")
tag=pa_e2e_$$
fails=0
checks=0

cleanup() {
    pa_server_stop
    $helper shm_unlink "${tag}_in"
    $helper shm_unlink "${tag}_out"
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }

# req METHOD PATH [curl args...]: sets $status, $body, $headers
req() {
    local method=$1 path=$2
    shift 2
    status=$(curl -s -m 10 -X "$method" -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' \
        "$@" "http://127.0.0.1:$PA_HTTP_PORT$path")
    body=$(tr -d '\0' <"$tmp/body")
    headers=$(cat "$tmp/headers")
}

expect_status() { # want what
    if [ "$status" = "$1" ]; then ok; else bad "$2: status $status, want $1 (body: $body)"; fi
}
expect_body() { # exact what
    if [ "$body" = "$1" ]; then ok; else bad "$2: body '$body', want '$1'"; fi
}
expect_contains() { # needle what
    case $body in *"$1"*) ok ;; *) bad "$2: body '$body' lacks '$1'" ;; esac
}
expect_header() { # regex what
    if grep -qiE "$1" <<<"$headers"; then ok; else bad "$2: no header matching '$1'"; fi
}
expect_no_header() {
    if grep -qiE "$1" <<<"$headers"; then bad "$2: unexpected header '$1'"; else ok; fi
}
expect_error() { # status message what
    expect_status "$1" "$3"
    expect_body "{\"error\":\"$2\"}" "$3"
}

pa_server_start "$build" --cudart "$cudart" || exit 1

# ---------------------------------------------------------------- health, metadata
req GET /v2/health/live; expect_status 200 live; expect_body "" live
req GET /v2/health/ready; expect_status 200 ready
req GET /v2/models/simple/ready; expect_status 200 "model ready"
req GET /v2/models/simple/versions/1/ready; expect_status 200 "model version ready"
req GET /v2/models/simple/versions/2/ready; expect_status 400 "missing version ready"
req GET /v2/models/nope/ready; expect_status 400 "unknown model ready"
req GET /v2
for ext in statistics binary_tensor_data system_shared_memory cuda_shared_memory \
    model_configuration sequence trace; do
    expect_contains "\"$ext\"" "extension $ext"
done
req GET /v2/models/simple
expect_body '{"name":"simple","versions":["1"],"platform":"pa_test","inputs":[{"name":"INPUT0","datatype":"INT32","shape":[-1,16]},{"name":"INPUT1","datatype":"INT32","shape":[-1,16]}],"outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[-1,16]},{"name":"OUTPUT1","datatype":"INT32","shape":[-1,16]}]}' metadata
req GET /v2/models/identity_bytes/versions/1
expect_contains '"shape":[-1]}' "non-batching metadata"
expect_contains '"datatype":"BYTES"' "bytes metadata"
req GET /v2/models/nope
expect_error 400 "Request for unknown model: 'nope' is not found" "unknown model"
req GET /v2/models/simple/versions/9
expect_error 400 "Request for unknown model: 'simple' version 9 is not found" "unknown version"
req GET /v2/models/simple/config
expect_contains '"max_batch_size":8' config
expect_contains '"dims":[16]' "config dims as numbers"
expect_contains '"data_type":"TYPE_INT32"' "config enum names"
expect_contains '"model_transaction_policy":{"decoupled":false}' "config decoupled"
req GET /v2/models/simple_dyna/config; expect_contains '"dynamic_batching":{' "dyna config"
req GET /v2/models/simple_sequence/config
expect_contains '"sequence_batching":{"max_sequence_idle_microseconds":1000000' "sequence config"
req GET /v2/models/repeat_int32/config; expect_contains '"decoupled":true' "decoupled config"
req GET /v2/models/simple_ensemble/config
expect_contains '"platform":"ensemble"' "ensemble platform"
expect_contains '"step":[{"model_name":"add_sub","model_version":-1,"input_map":{' "ensemble steps"

# ------------------------------------------------------------------ infer: JSON
in0='[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]'
in1='[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]'
sum='[2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]'
dif='[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]'
json_req='{"id":"7","inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":'$in0'},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}]}'
req POST /v2/models/simple/infer -d "$json_req"
expect_status 200 "json infer"
expect_body '{"id":"7","model_name":"simple","model_version":"1","outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[1,16],"data":'$sum'},{"name":"OUTPUT1","datatype":"INT32","shape":[1,16],"data":'$dif'}]}' "json infer body"
expect_no_header '^Inference-Header-Content-Length' "json infer header"
expect_header '^Content-Type: application/json' "json content type"
# no id -> none echoed; versioned URL
req POST /v2/models/simple/versions/1/infer -d "${json_req/\"id\":\"7\",/}"
case $body in '{"model_name":"simple","model_version":"1",'*) ok ;; *) bad "id omitted: $body" ;; esac

# -------------------------------------------------------------- infer: binary
a=$($helper i32 {1..16}); b=$($helper i32 $(seq 16 -1 1))
hdr='{"id":"b1","inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}],"outputs":[{"name":"OUTPUT1","parameters":{"binary_data":true}},{"name":"OUTPUT0","parameters":{"binary_data":false}}]}'
hl=$($helper body "$tmp/req.bin" "$hdr" "$a" "$b")
req POST /v2/models/simple/infer -H "Inference-Header-Content-Length: $hl" \
    -H 'Content-Type: application/octet-stream' -H 'Expect:' --data-binary @"$tmp/req.bin"
expect_status 200 "binary infer"
expect_header '^Content-Type: application/octet-stream' "binary content type"
ihcl=$(grep -i '^Inference-Header-Content-Length:' "$tmp/headers" | tr -dc '0-9')
mapfile -t parts < <($helper split "$tmp/body" "$ihcl")
want_dif=$($helper i32 -15 -13 -11 -9 -7 -5 -3 -1 1 3 5 7 9 11 13 15)
if [ "${parts[1]:-}" = "$want_dif" ]; then ok; else bad "binary OUTPUT1 blob: ${parts[1]:-none}"; fi
case ${parts[0]} in
    '{"id":"b1","model_name":"simple","model_version":"1","outputs":[{"name":"OUTPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"OUTPUT0","datatype":"INT32","shape":[1,16],"data":[17,17,17,17,17,17,17,17,17,17,17,17,17,17,17,17]}]}') ok ;;
    *) bad "binary infer header: ${parts[0]}" ;;
esac
# binary_data_output with no outputs listed; batch 2
hdr='{"parameters":{"binary_data_output":true},"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[2,16],"parameters":{"binary_data_size":128}},{"name":"INPUT1","datatype":"INT32","shape":[2,16],"parameters":{"binary_data_size":128}}]}'
hl=$($helper body "$tmp/req.bin" "$hdr" "$a$a" "$b$b")
req POST /v2/models/simple/infer -H "Inference-Header-Content-Length: $hl" --data-binary @"$tmp/req.bin"
expect_status 200 "binary_data_output"
expect_contains '"shape":[2,16],"parameters":{"binary_data_size":128}' "batch 2 binary output"

# BYTES: binary with an empty element, and JSON
s=$($helper strings hello "" wörld)
hdr='{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[3],"parameters":{"binary_data_size":'$(( ${#s} / 2 ))'}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}'
hl=$($helper body "$tmp/req.bin" "$hdr" "$s")
req POST /v2/models/identity_bytes/infer -H "Inference-Header-Content-Length: $hl" --data-binary @"$tmp/req.bin"
expect_status 200 "bytes binary"
mapfile -t parts < <($helper split "$tmp/body" "$(grep -i '^Inference-Header-Content-Length:' "$tmp/headers" | tr -dc '0-9')")
if [ "${parts[1]:-}" = "$s" ]; then ok; else bad "bytes echo: ${parts[1]:-none}"; fi
req POST /v2/models/identity_bytes/infer -d '{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[2],"data":["a\"b",""]}]}'
expect_body '{"model_name":"identity_bytes","model_version":"1","outputs":[{"name":"OUTPUT0","datatype":"BYTES","shape":[2],"data":["a\"b",""]}]}' "bytes json"
# zero-element tensor: 0-byte output, no binary section
hdr='{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,0],"parameters":{"binary_data_size":0}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}'
req POST /v2/models/identity_fp32/infer -H "Inference-Header-Content-Length: ${#hdr}" -d "$hdr"
expect_status 200 "zero-byte output"
expect_contains '"parameters":{"binary_data_size":0}' "zero-byte output size"
expect_no_header '^Inference-Header-Content-Length' "zero-byte output header"
# FP16 is binary only
req POST /v2/models/identity_fp16/infer -d '{"inputs":[{"name":"INPUT0","datatype":"FP16","shape":[1],"data":[1]}]}'
expect_error 400 "receiving FP16 data via JSON is not supported. Please use the binary data format for input 'INPUT0'" "fp16 json"
hdr='{"inputs":[{"name":"INPUT0","datatype":"FP16","shape":[2],"parameters":{"binary_data_size":4}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}'
hl=$($helper body "$tmp/req.bin" "$hdr" 003c0040)
req POST /v2/models/identity_fp16/infer -H "Inference-Header-Content-Length: $hl" --data-binary @"$tmp/req.bin"
expect_status 200 "fp16 binary"

# ------------------------------------------------------------------ compression
printf '%s' "$json_req" | gzip -c >"$tmp/req.gz"
req POST /v2/models/simple/infer -H 'Content-Encoding: gzip' -H 'Accept-Encoding: deflate' \
    --data-binary @"$tmp/req.gz"
expect_status 200 "gzip request"
expect_header '^Content-Encoding: deflate' "deflate response"
body=$(python3 -c 'import sys,zlib; print(zlib.decompress(open(sys.argv[1],"rb").read()).decode())' "$tmp/body")
expect_contains "\"data\":$sum" "deflate response body"
printf '%s' "$json_req" | python3 -c 'import sys,zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))' >"$tmp/req.z"
req POST /v2/models/simple/infer -H 'Content-Encoding: deflate' --data-binary @"$tmp/req.z"
expect_status 200 "deflate request"
req POST /v2/models/simple/infer -H 'Content-Encoding: br' -d "$json_req"
expect_error 400 "Unsupported compression type" "unknown encoding"
expect_header '^Accept-Encoding: gzip, deflate' "accept-encoding reply"

# ------------------------------------------------------------------- errors
j() { req POST "/v2/models/$1/infer" -d "$2"; }
j simple '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,15],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}]}'
expect_error 400 "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,15]" "bad shape"
j simple '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":'$in0'},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}]}'
expect_error 400 "inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'" "bad dtype"
j simple '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":'$in0'}]}'
expect_error 400 "expected 2 inputs but got 1 inputs for model 'simple'" "missing input"
j simple '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":'$in0'},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}],"outputs":[{"name":"NOPE"}]}'
expect_error 400 "unexpected inference output 'NOPE' for model 'simple'" "unknown output"
j simple '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}]}'
expect_error 400 "Shape does not match true shape of 'data' field" "json count"
j simple '{"parameters":{"triton_x":1},"inputs":[]}'
expect_status 400 "triton_ parameter"
j simple 'not json'
expect_status 400 "bad json"
j repeat_int32 '{"inputs":[{"name":"IN","datatype":"INT32","shape":[1],"data":[1]}]}'
expect_error 400 "HTTP end point doesn't support models with decoupled transaction policy" decoupled
big=$(printf ',%s' $(seq 1 144)); big="[${big#,}]"
j simple '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[9,16],"data":'$big'},{"name":"INPUT1","datatype":"INT32","shape":[9,16],"data":'$big'}]}'
expect_error 400 "inference request batch-size must be <= 8 for 'simple'" "batch too big"
hdr='{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"binary_data_size":64}}]}'
hl=$($helper body "$tmp/req.bin" "$hdr" "$a" "$b" 00)
req POST /v2/models/simple/infer -H "Inference-Header-Content-Length: $hl" --data-binary @"$tmp/req.bin"
expect_error 400 "unexpected additional input data" "extra binary data"
req GET /v2/nowhere; expect_error 404 "Not Found" "unknown route"
req DELETE /v2/models/simple; expect_error 405 "Method Not Allowed" "bad method"
req GET /v2/models/simple/infer; expect_error 405 "Method Not Allowed" "GET infer"

# ---------------------------------------------------------------- sequences
seq_req() { # id start end value
    j simple_sequence '{"id":"s","parameters":{"sequence_id":'$1',"sequence_start":'$2',"sequence_end":'$3'},"inputs":[{"name":"INPUT","datatype":"INT32","shape":[1,1],"data":['$4']}]}'
}
seq_req 42 true false 5; expect_contains '"data":[5]' "sequence start"
seq_req 42 false false 7; expect_contains '"data":[12]' "sequence continue"
seq_req 42 false true 1; expect_contains '"data":[13]' "sequence end"
seq_req 42 false false 1
expect_error 400 "inference request for sequence 42 to model 'simple_sequence' must specify the START flag on the first request of the sequence" "sequence after end"
seq_req 0 true true 1
expect_error 400 "inference request to model 'simple_sequence' must specify a non-zero or non-empty correlation ID" "no correlation id"
seq_req '"abc"' true true 3; expect_contains '"data":[3]' "string correlation id"

# --------------------------------------------------------------- statistics
req GET /v2/models/simple/stats
expect_status 200 "model stats"
python3 - "$tmp/body" <<'EOF' && ok || bad "simple stats counters"
import json, sys
s = json.load(open(sys.argv[1]))["model_stats"]
assert len(s) == 1 and s[0]["name"] == "simple" and s[0]["version"] == "1", s
st = s[0]["inference_stats"]
n = st["success"]["count"]
assert n == 6, n
for k in ("queue", "compute_input", "compute_infer", "compute_output"):
    assert st[k]["count"] == n, (k, st[k])
assert s[0]["inference_count"] == n + 1, s[0]  # one batch-2 request
assert st["cache_hit"] == {"count": 0, "ns": 0}
EOF
req GET /v2/models/simple/versions/1/stats; expect_status 200 "version stats"
req GET /v2/models/nope/stats
expect_error 400 "requested model 'nope' is not available" "unknown model stats"
req GET /v2/models/simple/versions/3/stats
expect_error 400 "requested model version is not available for model 'simple'" "unknown version stats"
j simple_ensemble "${json_req}"
req GET /v2/models/stats
python3 - "$tmp/body" <<'EOF' && ok || bad "ensemble composing stats"
import json, sys
s = {m["name"]: m for m in json.load(open(sys.argv[1]))["model_stats"]}
for name in ("simple_ensemble", "add_sub", "identity_int32"):
    assert s[name]["inference_stats"]["success"]["count"] == 1, (name, s[name])
assert s["simple_ensemble"]["inference_count"] == 1
EOF

# --------------------------------------------------------- system shared memory
$helper shm_create "${tag}_in" 128 "$a$b"
$helper shm_create "${tag}_out" 128
req POST /v2/systemsharedmemory/unregister; expect_status 200 "shm unregister all (none)"
req POST "/v2/systemsharedmemory/region/in/register" -d '{"key":"/'"${tag}"'_in","offset":0,"byte_size":128}'
expect_status 200 "shm register in"
req POST "/v2/systemsharedmemory/region/out/register" -d '{"key":"/'"${tag}"'_out","offset":0,"byte_size":128}'
expect_status 200 "shm register out"
req POST "/v2/systemsharedmemory/region/in/register" -d '{"key":"/'"${tag}"'_in","offset":0,"byte_size":128}'
expect_error 400 "shared memory region 'in' already in manager" "shm duplicate"
req GET /v2/systemsharedmemory/region/in/status
expect_body '[{"name":"in","key":"/'"${tag}"'_in","offset":0,"byte_size":128}]' "shm status one"
req GET /v2/systemsharedmemory/status; expect_contains '"name":"out"' "shm status all"
shm_infer='{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"shared_memory_region":"in","shared_memory_byte_size":64}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"parameters":{"shared_memory_region":"in","shared_memory_byte_size":64,"shared_memory_offset":64}}],"outputs":[{"name":"OUTPUT0","parameters":{"shared_memory_region":"out","shared_memory_byte_size":64}},{"name":"OUTPUT1","parameters":{"shared_memory_region":"out","shared_memory_byte_size":64,"shared_memory_offset":64}}]}'
req POST /v2/models/simple/infer -H "Inference-Header-Content-Length: ${#shm_infer}" -d "$shm_infer"
expect_body '{"model_name":"simple","model_version":"1","outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[1,16]},{"name":"OUTPUT1","datatype":"INT32","shape":[1,16]}]}' "shm infer"
got=$($helper shm_read "${tag}_out" 0 128)
want=$($helper i32 $(for i in $(seq 1 16); do echo 17; done))$want_dif
if [ "$got" = "$want" ]; then ok; else bad "shm outputs: $got"; fi
j simple "${shm_infer/\"shared_memory_byte_size\":64,\"shared_memory_offset\":64\}\}\]\}/\"shared_memory_byte_size\":8,\"shared_memory_offset\":64\}\}\]\}}"
expect_error 400 "shared memory size specified with the request for output 'OUTPUT1' (8 bytes) should be at least 64 bytes to hold the results" "shm output too small"
oob='{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"parameters":{"shared_memory_region":"in","shared_memory_byte_size":64,"shared_memory_offset":100}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":'$in1'}]}'
j simple "$oob"
expect_error 400 "Invalid offset + byte size for shared memory region: 'in'" "shm input out of bounds"
req POST /v2/systemsharedmemory/region/in/unregister; expect_status 200 "shm unregister one"
req GET /v2/systemsharedmemory/region/in/status
expect_error 400 "Unable to find system shared memory region: 'in'" "shm status unknown"
req POST /v2/systemsharedmemory/unregister; expect_status 200 "shm unregister all"
req GET /v2/systemsharedmemory/status; expect_body '[]' "shm status empty"

# ----------------------------------------------------------- CUDA shared memory
req POST /v2/cudasharedmemory/unregister; expect_status 200 "cuda unregister all (none)"
req GET /v2/cudasharedmemory/status; expect_body '[]' "cuda status empty"
if [ -f "$cudart" ]; then
    h_in=$($helper cuda_alloc "$cudart" 128 "$a$b")
    h_out=$($helper cuda_alloc "$cudart" 128 00)
    req POST /v2/cudasharedmemory/region/cin/register \
        -d '{"raw_handle":{"b64":"'"$h_in"'"},"device_id":0,"byte_size":128}'
    expect_status 200 "cuda register in"
    req POST /v2/cudasharedmemory/region/cout/register \
        -d '{"raw_handle":{"b64":"'"$h_out"'"},"device_id":0,"byte_size":128}'
    expect_status 200 "cuda register out"
    req GET /v2/cudasharedmemory/region/cin/status
    expect_body '[{"name":"cin","device_id":0,"byte_size":128}]' "cuda status"
    cuda_infer=${shm_infer//\"in\"/\"cin\"}
    cuda_infer=${cuda_infer//\"out\"/\"cout\"}
    req POST /v2/models/simple/infer -d "$cuda_infer"
    expect_status 200 "cuda infer"
    got=$($helper cuda_read "$cudart" "$h_out" 0 128)
    if [ "$got" = "$want" ]; then ok; else bad "cuda outputs: $got"; fi
    req POST /v2/cudasharedmemory/region/cin/unregister; expect_status 200 "cuda unregister one"
    req POST /v2/cudasharedmemory/unregister; expect_status 200 "cuda unregister all"
    req GET /v2/cudasharedmemory/status; expect_body '[]' "cuda status after"
    $helper cuda_free "$cudart" "$h_in"
    $helper cuda_free "$cudart" "$h_out"
else
    bad "fake libcudart.so not built at $cudart"
fi

# ------------------------------------------------------------------- trace
req GET /v2/trace/setting; expect_contains '"trace_level":["OFF"]' "trace get"
req POST /v2/trace/setting -d '{"trace_file":"/tmp/t.json","trace_level":["TIMESTAMPS"],"trace_rate":"1"}'
expect_status 200 "trace post"
expect_contains '"trace_rate":"1"' "trace post echo"
req POST /v2/models/simple/trace/setting -d '{"trace_count":"5"}'
expect_contains '"trace_count":"5"' "model trace"
expect_contains '"trace_file":"/tmp/t.json"' "model trace falls back"
req POST /v2/trace/setting -d '{"trace_level":"bogus"}'; expect_status 400 "bad trace"

# ------------------------------------------------------------------- metrics
metrics=$(curl -s -m 5 "http://127.0.0.1:$PA_METRICS_PORT/metrics")
for line in \
    'nv_gpu_utilization{gpu_uuid="GPU-00000000-0000-0000-0000-000000000001"} 0.25' \
    'nv_gpu_utilization{gpu_uuid="GPU-00000000-0000-0000-0000-000000000002"} 0.5' \
    'nv_gpu_power_usage{gpu_uuid="GPU-00000000-0000-0000-0000-000000000001"} 100.5' \
    'nv_gpu_memory_used_bytes{gpu_uuid="GPU-00000000-0000-0000-0000-000000000002"} 2097152000' \
    'nv_gpu_memory_total_bytes{gpu_uuid="GPU-00000000-0000-0000-0000-000000000001"} 85899345920'; do
    if grep -qxF "$line" <<<"$metrics"; then ok; else bad "metrics line: $line"; fi
done
if grep -qE '^nv_inference_request_success\{model="simple",version="1"\} [1-9][0-9]*$' <<<"$metrics"; then ok; else bad "per-model metrics"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA_METRICS_PORT/other")
[ "$code" = 400 ] && ok || bad "metrics bad path: $code"
pa_server_stop

# ------------------------------------------------------------------- knobs
pa_server_start "$build" --delay-ms simple=400 || exit 1
t=$(curl -s -o /dev/null -w '%{time_total}' -m 5 -d "$json_req" "http://127.0.0.1:$PA_HTTP_PORT/v2/models/simple/infer")
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.4 else 1)" && ok || bad "delay: $t s"
# 4 concurrent 400 ms requests overlap: well under the 1600 ms they take one
# after another (one curl process, parallel transfers, so process start-up is
# not timed; the delay is long so that a loaded machine's overhead cannot
# make overlapping requests look serial)
u="http://127.0.0.1:$PA_HTTP_PORT/v2/models/simple/infer"
start=$(date +%s%N)
curl -s --no-progress-meter -o /dev/null -o /dev/null -o /dev/null -o /dev/null -m 5 -Z --parallel-immediate \
    -d "$json_req" "$u" "$u" "$u" "$u"
el=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$el" -lt 1200 ] && ok || bad "concurrent delays did not overlap: ${el} ms"
req GET /v2/models/simple/stats
python3 - "$tmp/body" <<'EOF' && ok || bad "compute_infer includes the delay"
import json, sys
st = json.load(open(sys.argv[1]))["model_stats"][0]["inference_stats"]
assert st["compute_infer"]["ns"] >= 5 * 400_000_000, st
assert st["success"]["ns"] >= st["compute_infer"]["ns"], st
EOF
pa_server_stop

pa_server_start "$build" --error-rate 1 || exit 1
j simple "$json_req"; expect_error 400 "injected failure (--error-rate)" "error rate"
req GET /v2/models/simple/stats; expect_contains '"fail":{"count":1,' "failure counted"
pa_server_stop

pa_server_start "$build" --drop-every 1 || exit 1
curl -s -o /dev/null -m 5 -d "$json_req" "http://127.0.0.1:$PA_HTTP_PORT/v2/models/simple/infer"
rc=$?
[ "$rc" = 18 ] && ok || bad "drop-every: curl exit $rc, want 18 (partial file)"
pa_server_stop

pa_server_start "$build" --slow-start-ms 300 || exit 1
t=$(curl -s -o /dev/null -w '%{time_total}' -m 5 "http://127.0.0.1:$PA_HTTP_PORT/v2/health/ready")
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.15 else 1)" && ok || bad "slow start: $t s"
pa_server_stop

pa_server_start "$build" --hang || exit 1
curl -s -o /dev/null -m 1 "http://127.0.0.1:$PA_HTTP_PORT/v2/health/live"
rc=$?
[ "$rc" = 28 ] && ok || bad "hang: curl exit $rc, want 28 (timeout)"
t0=$(date +%s%N)
pa_server_stop
el=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$el" -lt 3000 ] && ok || bad "hung server took ${el} ms to stop"

# grpc=0 when not requested, and SIGTERM exits 0
"$build/tests/servers/pa-test-server" --http-port 0 --metrics-port -1 >"$tmp/line" &
pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/line" ] && break; sleep 0.1; done
grep -qE '^http=[0-9]+ grpc=0 metrics=0$' "$tmp/line" && ok || bad "port line: $(cat "$tmp/line")"
kill -TERM $pid; wait $pid
rc=$?
[ "$rc" = 0 ] && ok || bad "SIGTERM exit status $rc"

echo "e2e_http: $checks checks, $fails failed"
[ "$fails" = 0 ]
