#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/.

The seeds are committed; this script documents where they come from and
regenerates them (python3 tests/fuzz/make_seeds.py). Each seed is a small,
valid input in the layout the target's header comment describes, so the
fuzzers start from the interesting paths instead of rediscovering the
formats. Protobuf messages are encoded by hand (no protobuf package is
needed): field numbers follow proto/*.proto.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- protobuf wire helpers -------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_packed(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def infer_param_bool(v):
    return f_varint(1, 1 if v else 0)


def map_entry(field, k, v):
    return f_bytes(field, f_bytes(1, k) + f_bytes(2, v))


def infer_response(final=None, n_out=1, rid="42"):
    m = f_bytes(1, "simple") + f_bytes(2, "1") + f_bytes(3, rid)
    if final is not None:
        m += map_entry(4, "triton_final_response", infer_param_bool(final))
    for i in range(n_out):
        t = f_bytes(1, "OUTPUT%d" % i) + f_bytes(2, "INT32") + f_packed(3, [1, 4])
        m += f_bytes(5, t)
    for i in range(n_out):
        m += f_bytes(6, struct.pack("<4i", i, i + 1, i + 2, i + 3))
    return m


def duration(count, ns):
    return f_varint(1, count) + f_varint(2, ns)


# ---- gRPC ------------------------------------------------------------------
# Selector byte: 0 infer, 1 stream, then the JSON table of fuzz_client_grpc.c:
# 2 config, 3 model metadata, 4 statistics, 5 server metadata, 6 repository
# index, 7 system shm status, 8 cuda shm status, 9 trace, 10 log, 11 infer.

def grpc_seeds():
    t = "fuzz_client_grpc"
    write(t, "infer_plain", b"\x00" + infer_response())
    write(t, "infer_final_false", b"\x00" + infer_response(final=False, n_out=2))
    write(t, "infer_empty", b"\x00")
    write(t, "stream_ok", b"\x01" + f_bytes(2, infer_response(final=True)))
    write(t, "stream_error", b"\x01" + f_bytes(1, "model not ready"))
    tensor_in = f_bytes(1, "INPUT0") + f_varint(2, 8) + f_packed(4, [16])
    tensor_out = f_bytes(1, "OUTPUT0") + f_varint(2, 8) + f_packed(3, [16])
    seq = (f_varint(1, 1000000)
           + f_bytes(2, f_bytes(1, "START") + f_bytes(2, f_varint(1, 0) + f_packed(2, [0, 1])))
           + f_bytes(4, f_varint(1, 4) + f_varint(3, 100)))
    config = (f_bytes(1, "simple") + f_bytes(2, "tensorflow_graphdef") + f_varint(4, 8)
              + f_bytes(5, tensor_in) + f_bytes(6, tensor_out) + f_bytes(13, seq)
              + f_bytes(7, f_bytes(1, "g") + f_varint(2, 1) + f_varint(4, 2))
              + map_entry(14, "p", f_bytes(1, "v"))
              + f_bytes(19, f_varint(1, 1)) + f_bytes(24, f_varint(1, 1)))
    write(t, "config", b"\x02" + f_bytes(1, config))
    ens = f_bytes(15, f_bytes(1, f_bytes(1, "sub") + f_varint(2, (1 << 64) - 1)
                                + map_entry(3, "IN", "INPUT0") + map_entry(4, "OUT", "OUTPUT0")))
    dyn = f_bytes(11, f_packed(1, [4, 8]) + f_varint(2, 100)
                  + f_bytes(7, f_varint(1, 1) + f_bytes(2, f_varint(4, 10))))
    write(t, "config_ensemble", b"\x02" + f_bytes(1, f_bytes(1, "ens") + f_bytes(2, "ensemble") + ens))
    write(t, "config_dynamic", b"\x02" + f_bytes(1, f_bytes(1, "dyn") + dyn))
    tm = f_bytes(1, "INPUT0") + f_bytes(2, "INT32") + f_packed(3, [-1, 16])
    meta = (f_bytes(1, "simple") + f_bytes(2, "1") + f_bytes(3, "tensorflow_graphdef")
            + f_bytes(4, tm) + f_bytes(5, tm))
    write(t, "metadata", b"\x03" + meta)
    istats = b"".join(f_bytes(i, duration(i * 10, i * 1000)) for i in range(1, 9))
    ms = (f_bytes(1, "simple") + f_bytes(2, "1") + f_varint(3, 1700000000000)
          + f_varint(4, 802) + f_varint(5, 802) + f_bytes(6, istats)
          + f_bytes(7, f_varint(1, 1) + f_bytes(2, duration(1, 2)))
          + f_bytes(8, f_bytes(1, "CPU") + f_varint(3, 1 << 60))
          + map_entry(9, "k", f_bytes(1, duration(1, 1))))
    write(t, "statistics", b"\x04" + f_bytes(1, ms) + f_bytes(1, f_bytes(1, "other")))
    write(t, "statistics_empty", b"\x04")
    write(t, "server_metadata", b"\x05" + f_bytes(1, "triton") + f_bytes(2, "2.39.0")
          + f_bytes(3, "binary_tensor_data") + f_bytes(3, "statistics"))
    write(t, "repository_index", b"\x06" + f_bytes(1, f_bytes(1, "simple") + f_bytes(3, "READY")))
    region = f_bytes(1, "r") + f_bytes(2, "/k") + f_varint(4, 64)
    write(t, "shm_status", b"\x07" + map_entry(1, "r", region))


# ---- HTTP ------------------------------------------------------------------
# Bytes 0-1: Inference-Header-Content-Length (LE, 0xffff = absent); byte 2:
# status (low 3 bits: 200 400 404 499 500 503 0 302), bit 3 small scratch.

def http_seeds():
    t = "fuzz_client_http"

    def resp(j, binary=b"", hdr=None, status=0):
        j = j.encode()
        h = len(j) if hdr is None else hdr
        return struct.pack("<H", h) + bytes([status]) + j + binary

    j = ('{"model_name":"simple","model_version":"1","outputs":['
         '{"name":"OUTPUT0","datatype":"INT32","shape":[1,4],"parameters":{"binary_data_size":16}},'
         '{"name":"OUTPUT1","datatype":"INT32","shape":[1,4],"parameters":{"binary_data_size":16}}]}')
    write(t, "binary", resp(j, struct.pack("<8i", *range(8))))
    j = ('{"model_name":"simple","outputs":['
         '{"name":"OUTPUT0","datatype":"INT32","shape":[2,2],"data":[[1,-2],[3,4]]},'
         '{"name":"OUT","datatype":"BYTES","shape":[2],"data":["ab",""]},'
         '{"name":"OUTPUT1","datatype":"BOOL","shape":[1],"data":[true]},'
         '{"name":"F","datatype":"FP64","shape":[1],"data":[1.5]},'
         '{"name":"U","datatype":"UINT16","shape":[1],"data":[7]}]}')
    write(t, "json_data", resp(j, hdr=0xFFFF))
    write(t, "error_400", resp('{"error":"inference request batch-size must be <= 8"}', status=1))
    write(t, "error_499", resp("", status=3))
    write(t, "error_text", resp("upstream connect error", hdr=0xFFFF, status=4))
    j = '{"outputs":[{"name":"OUTPUT0","parameters":{"binary_data_size":0}}]}'
    write(t, "binary_empty", resp(j, status=8))


# ---- metrics ---------------------------------------------------------------

def metrics_seeds():
    t = "fuzz_measure_metrics"
    u0 = "GPU-00000000-0000-0000-0000-000000000000"
    u1 = "GPU-00000000-0000-0000-0000-000000000001"
    text = (
        "# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)\n"
        "# TYPE nv_gpu_utilization gauge\n"
        f'nv_gpu_utilization{{gpu_uuid="{u0}"}} 0.41\n'
        f'nv_gpu_utilization{{gpu_uuid="{u1}"}} 0.77\n'
        "# TYPE nv_gpu_memory_total_bytes gauge\n"
        f'nv_gpu_memory_total_bytes{{gpu_uuid="{u0}"}} 1000000000\n'
        f'nv_gpu_memory_used_bytes{{gpu_uuid="{u0}"}} 50000000\n'
        f'nv_gpu_power_usage{{gpu_uuid="{u0}"}} 81.619\n'
        f'nv_gpu_power_limit{{gpu_uuid="{u0}"}} 300\n'
    )
    write(t, "triton", text)
    write(t, "two_scrapes", text + "\f" + text.replace("0.41", "0.5").replace("81.619", "90"))
    write(t, "odd", '\nnv_gpu_utilization{gpu_uuid="a",x="y"} 1\n'
          'nv_gpu_power_usage{gpu_uuid="b"} 1e9 1700000000\n'
          'nv_gpu_memory_used_bytes{gpu_uuid=""} 12.\n')


# ---- CLI -------------------------------------------------------------------
# Byte 0: model facts (bits 0-1 max batch 0/1/8/max, bit 2 sequence,
# bit 3 decoupled); then one argument per line.

def cli_seeds():
    t = "fuzz_cli_options"
    lines = [
        (2, "-m simple -b 4 -p 500"),
        (2, "-m simple --collect-metrics -p 500"),
        (2, "-m simple --concurrency-range 1:4 -p 500"),
        (2, "-m simple --measurement-mode count_windows --measurement-request-count 50"),
        (2, "-m simple -f out.csv --request-rate-range 100:200:100 -p 500"),
        (2, "-m simple -i grpc -u localhost:8001 --streaming -p 500"),
        (2, "--service-kind tfserving -i grpc -u localhost:8500 -m simple -b 1 -f out.csv"),
        (2, "--service-kind torchserve -u localhost:8000 -m simple --input-data ts.json"),
        (2, "-m simple -f out.csv --verbose-csv --collect-metrics --metrics-url localhost:8002/metrics "
            "--metrics-interval 100 --concurrency-range 1:2"),
        (6, "-m seq --sequence-length 10 --sequence-id-range 1:100 --serial-sequences --async"),
        (10, "-m dec --periodic-concurrency-range 1:10:2 --request-period 5 --streaming -i grpc"),
        (2, "-m simple --shape IN:1,2,3 --string-data x -H a:b -H c:d --request-parameter p:1:int"),
        (0, "-m simple --request-distribution poisson --request-rate-range 10 --binary-search -l 5"),
        (2, "-m simple --shared-memory system --output-shared-memory-size 1024 "
            "--input-tensor-format json --output-tensor-format binary"),
        (2, "-m simple --bls-composing-models a:1,b --trace-level TIMESTAMPS --trace-rate 1"),
        (2, "--version"),
        (2, "-m simple --percentile=95 -vv -t 2 -c 3 -d -a -z"),
    ]
    for i, (facts, cmd) in enumerate(lines):
        write(t, "cmd%02d" % i, bytes([facts]) + "\n".join(cmd.split(" ")).encode())


# ---- JSON input data ---------------------------------------------------------

def data_seeds():
    t = "fuzz_data_json"
    doc = ('{"data":[{"BOOL_IN":[true,false,true,false],"BYTES_IN":["a","bc"],'
           '"FP16_IN":{"b64":"AAAAAA=="},"FP32_IN":{"content":[1,2,3,4],"shape":[2,2]},'
           '"I64_IN":[9007199254740993],"OPT_IN":[1],"SHAPE_IN":[1,2],"U8_IN":[1,2,3,255]}],'
           '"validation_data":[{"OUT":[1,2],"OUT_BYTES":{"content":["x"],"shape":[1,1]}}]}')
    write(t, "full", doc)
    write(t, "streams", '{"data":[[{"BOOL_IN":[1,0,1,0],"BYTES_IN":["",""],"FP16_IN":{"b64":"AAAAAA=="},'
          '"FP32_IN":{"content":[1,2],"shape":[1,2]},"I64_IN":[-1],"SHAPE_IN":[2,2],"U8_IN":[0,0,0,0]}]]}')


# ---- model parser --------------------------------------------------------------
# Byte 0: command line of fuzz_model_parse.c (0 "-m top", 1 "-b 4", 2 --shape,
# 3 BLS composing "sub,other:1", 4/5 TF Serving, 6 "-x 1 --async", 7 gRPC streaming).

def model_seeds():
    import json
    t = "fuzz_model_parse"

    def seed(name, sel, doc):
        write(t, name, bytes([sel]) + json.dumps(doc, separators=(",", ":")).encode())

    def meta(name, ins, outs):
        return {"name": name, "versions": ["1"], "platform": "tensorflow_graphdef",
                "inputs": [{"name": n, "datatype": d, "shape": s} for n, d, s in ins],
                "outputs": [{"name": n, "datatype": d, "shape": s} for n, d, s in outs]}

    top_meta = meta("top", [("INPUT0", "INT32", [-1, 16]), ("IN", "FP32", [-1, -1, 4])],
                    [("OUTPUT0", "INT32", [-1, 16])])
    top_cfg = {"name": "top", "platform": "tensorflow_graphdef", "max_batch_size": 8,
               "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16]},
                         {"name": "IN", "data_type": "TYPE_FP32", "dims": [-1, 4],
                          "optional": True}],
               "output": [{"name": "OUTPUT0", "data_type": "TYPE_INT32", "dims": [16],
                           "is_shape_tensor": False}],
               "dynamic_batching": {"max_queue_delay_microseconds": 100},
               "response_cache": {"enable": True}}
    seed("triton", 0, {"metadata": {"top": top_meta}, "config": {"top": top_cfg}})
    seed("triton_batch", 1, {"metadata": {"top": top_meta}, "config": {"top": top_cfg}})
    seed("triton_shape", 2, {"metadata": {"top": top_meta}, "config": {"top": top_cfg}})
    seq_cfg = dict(top_cfg, max_batch_size="0", sequence_batching={"max_sequence_idle_microseconds": 5},
                   model_transaction_policy={"decoupled": True})
    seq_cfg.pop("dynamic_batching")
    seed("triton_sequence", 6, {"metadata": {"top": top_meta}, "config": {"top": seq_cfg}})
    ens_cfg = {"name": "top", "platform": "ensemble", "max_batch_size": 8,
               "ensemble_scheduling": {"step": [
                   {"model_name": "sub", "model_version": -1,
                    "input_map": {"INPUT0": "INPUT0"}, "output_map": {"OUTPUT0": "OUTPUT0"}},
                   {"model_name": "inner", "model_version": "2"}]}}
    inner_cfg = {"name": "inner", "platform": "ensemble",
                 "ensemble_scheduling": {"step": [{"model_name": "other", "model_version": 1}]}}
    sub_cfg = {"name": "sub", "max_batch_size": 8, "sequence_batching": {}}
    other_cfg = {"name": "other", "response_cache": {"enable": True}}
    seed("ensemble", 0, {"metadata": {"top": top_meta},
                         "config": {"top": ens_cfg, "sub": sub_cfg, "inner": inner_cfg,
                                    "other": other_cfg}})
    seed("bls", 3, {"metadata": {"top": top_meta},
                    "config": {"top": top_cfg, "sub": sub_cfg, "other": other_cfg}})
    seed("grpc_config_shape", 0, {"metadata": {"top": top_meta}, "config": {"top": {"config": top_cfg}}})
    tfs = {"metadata": {"signature_def": {"signature_def": {"serving_default": {
        "inputs": {"IN": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "5"}]}},
                   "S": {"dtype": "DT_STRING", "tensor_shape": {"unknown_rank": True}}},
        "outputs": {"OUT": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}]}}}}}}}}
    seed("tfserving", 4, {"metadata": {"top": tfs}})
    seed("tfserving_batch", 5, {"metadata": {"top": tfs}})
    seed("streaming", 7, {"metadata": {"top": top_meta}, "config": {"top": seq_cfg}})


# ---- server statistics -----------------------------------------------------------
# Byte 0: bit 0 target version "1" (else latest), bit 1 top-level response
# cache; then the start and end statistics documents separated by a form feed.

def stats_seeds():
    import json
    t = "fuzz_measure_stats"

    def entry(name, version, n, text=False):
        # text: counters as decimal strings, as the gRPC conversion prints 64-bit values
        d = lambda c: {"count": str(c) if text else c, "ns": c * 1000}
        return {"name": name, "version": version, "last_inference": 1700000000000,
                "inference_count": n, "execution_count": str(n) if text else n,
                "inference_stats": {"success": d(n), "fail": d(0), "queue": d(n),
                                    "compute_input": d(n), "compute_infer": d(n),
                                    "compute_output": d(n), "cache_hit": d(0), "cache_miss": d(0)},
                "batch_stats": [{"batch_size": 1, "compute_input": d(n), "compute_infer": d(n),
                                 "compute_output": d(n)}]}

    def doc(n):
        return json.dumps({"model_stats": [entry("m", "1", n), entry("m", "2", n // 2),
                                           entry("a", "3", n), entry("b", "1", n, text=True)]},
                          separators=(",", ":"))

    write(t, "window", b"\x00" + doc(10).encode() + b"\f" + doc(25).encode())
    write(t, "window_v1", b"\x01" + doc(10).encode() + b"\f" + doc(25).encode())
    write(t, "cache_idle", b"\x02" + doc(10).encode())


# ---- HPACK ------------------------------------------------------------------
# Byte 0: SETTINGS_HEADER_TABLE_SIZE (low 2 bits: 4096 256 64 0); then header
# blocks, each a 2-byte big-endian length and the block. The blocks are the
# RFC 7541 Appendix C examples, decoded in sequence on one decoder.

def hpack_huffman(data):
    """Huffman-codes bytes with the table in src/client/hpack_huffman.c."""
    import re
    src = open(os.path.join(HERE, "..", "..", "src", "client", "hpack_huffman.c")).read()
    body = src[src.index("HPACK_HUFFMAN_SYMBOLS] = {"):src.index("/* clang-format on */")]
    table = [(int(c, 16), int(b)) for c, b in re.findall(r"\{(0x[0-9a-f]+), (\d+)\}", body)]
    acc, bits, out = 0, 0, bytearray()
    for byte in data:
        code, n = table[byte]
        acc, bits = acc << n | code, bits + n
        while bits >= 8:
            out.append(acc >> (bits - 8) & 0xFF)
            bits -= 8
    if bits:
        out.append((acc << (8 - bits) | 0xFF >> bits) & 0xFF)
    return bytes(out)


def hpack_seeds():
    t = "fuzz_client_hpack"

    def seq(table_sel, *blocks):
        out = bytes([table_sel])
        for b in blocks:
            b = bytes.fromhex(b) if isinstance(b, str) else b
            out += struct.pack(">H", len(b)) + b
        return out

    c2 = ["400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
          "040c 2f73 616d 706c 652f 7061 7468",
          "1008 7061 7373 776f 7264 0673 6563 7265 74", "82"]
    c3 = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
          "8286 84be 5808 6e6f 2d63 6163 6865",
          "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]
    c4 = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
          "8286 84be 5886 a8eb 1064 9cbf",
          "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]
    c5 = ["4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 "
          "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 "
          "6c65 2e63 6f6d",
          "4803 3330 37c1 c0bf",
          "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d "
          "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 "
          "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"]
    c6 = ["4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 "
          "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
          "4883 640e ffc1 c0bf",
          "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab "
          "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f "
          "9587 3160 65c0 03ed 4ee5 b106 3d50 07"]
    write(t, "c2_literals", seq(0, *c2))
    write(t, "c3_requests", seq(0, *c3))
    write(t, "c4_requests_huffman", seq(0, *c4))
    write(t, "c5_responses", seq(1, *c5))
    write(t, "c6_responses_huffman", seq(1, *c6))
    # The same with a size update to 256 in front of the first block.
    write(t, "c6_size_update", seq(0, "3fe101" + c6[0].replace(" ", ""), *c6[1:]))
    # Size updates: to 0 and back, then fields; a small table evicting on every insert.
    write(t, "size_updates", seq(0, "20 3fe11f 82", "3f45 4001 6101 62 7e02 7a7a", "be bf"))
    # Every octet once, Huffman-coded, as a never-indexed value with a new name.
    every = hpack_huffman(bytes(range(256)))
    write(t, "huffman_all_octets", seq(0, b"\x10\x01z" + hpack_int(0x80, 7, len(every)) + every))
    # What hpack_encode_literal sends: a new name, and static name indexes 4 and 61.
    lit = (b"\x00" + hpack_str(b"x-request-id") + hpack_str(b"42")
           + hpack_int(0x00, 4, 4) + hpack_str(b"/v2/models/simple/infer")
           + hpack_int(0x00, 4, 61) + hpack_str(b"Basic"))
    write(t, "encoder_forms", seq(0, lit))


def h2_seeds():
    """fuzz_client_h2: byte 0 picks 1..3 calls; the rest is what the server sends."""
    t = "fuzz_client_h2"

    def frame(ftype, flags, sid, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", sid) + payload

    def lit(name, value):  # literal without indexing, new name, plain strings
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value

    settings = frame(4, 0, 0) + frame(4, 1, 0)
    head = b"\x88" + b"\x0f\x10\x10application/grpc"  # :status 200, content-type
    msg = b"\x0a\x06simple\x1a\x0242"                   # model_name, id
    body = b"\x00" + struct.pack(">I", len(msg)) + msg
    trailers = lit(b"grpc-status", b"0")

    def ok(sid):
        return frame(1, 4, sid, head) + frame(0, 0, sid, body) + frame(1, 5, sid, trailers)

    write(t, "ok-one", b"\x00" + settings + ok(1))
    write(t, "ok-three", b"\x02" + settings + ok(3) + ok(1) + ok(5))
    write(t, "trailers-only-error", b"\x00" + settings + frame(
        1, 5, 1, head + lit(b"grpc-status", b"3") + lit(b"grpc-message", b"bad%20input")))
    write(t, "goaway-retry", b"\x01" + settings + frame(7, 0, 0, struct.pack(">II", 0, 0)))
    write(t, "refused", b"\x00" + settings + frame(3, 0, 1, struct.pack(">I", 7)))
    write(t, "rst-cancel", b"\x00" + settings + frame(3, 0, 1, struct.pack(">I", 8)))
    tune = frame(4, 0, 0, struct.pack(">HI", 4, 1 << 20) + struct.pack(">HI", 5, 1 << 15) +
                 struct.pack(">HI", 3, 1))
    write(t, "settings-ping-window", b"\x01" + tune + frame(6, 0, 0, b"12345678") +
          frame(8, 0, 0, struct.pack(">I", 1 << 20)) + frame(8, 0, 1, struct.pack(">I", 100)) +
          ok(1) + ok(3))
    write(t, "continuation-padding", b"\x00" + settings +
          frame(1, 0x8 | 0x20, 1, b"\x02" + b"\x00\x00\x00\x00\x10" + head[:5] + b"\x00\x00") +
          frame(9, 4, 1, head[5:]) +
          frame(0, 0x8, 1, b"\x03" + body + b"\x00\x00\x00") + frame(1, 5, 1, trailers))
    write(t, "http-404", b"\x00" + settings + frame(1, 5, 1, b"\x8d"))  # :status 404
    # Byte 0 bit 2: one stream carrying the calls' messages.
    write(t, "stream-two-messages", b"\x05" + settings + frame(1, 4, 1, head) +
          frame(0, 0, 1, body + body[:4]) + frame(0, 0, 1, body[4:]) + frame(1, 5, 1, trailers))
    write(t, "stream-ended-by-status", b"\x06" + settings + frame(1, 4, 1, head) +
          frame(0, 0, 1, body) + frame(1, 5, 1, lit(b"grpc-status", b"14") +
                                       lit(b"grpc-message", b"stream%20closed")))


def hpack_int(flags, prefix_bits, v):
    """An integer with an N-bit prefix (RFC 7541 5.1)."""
    top = (1 << prefix_bits) - 1
    if v < top:
        return bytes([flags | v])
    out, v = bytearray([flags | top]), v - top
    while v >= 0x80:
        out.append(0x80 | v & 0x7F)
        v >>= 7
    return bytes(out + bytes([v]))


def hpack_str(b):
    """A plain (non-Huffman) string literal."""
    return hpack_int(0x00, 7, len(b)) + b

if __name__ == "__main__":
    grpc_seeds()
    http_seeds()
    metrics_seeds()
    cli_seeds()
    data_seeds()
    model_seeds()
    stats_seeds()
    hpack_seeds()
    h2_seeds()
