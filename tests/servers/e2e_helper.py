#!/usr/bin/env python3
"""Byte-level helpers for e2e_http.sh (curl does the HTTP).

Subcommands:
  body OUT JSON_HEADER HEX...     write JSON header + binary blobs to OUT,
                                  print the header length
  split FILE IHCL                 print the JSON part, then one hex line per
                                  blob described by its outputs' binary_data_size
  i32 V...                        hex of little-endian int32 values
  f32 V...                        hex of little-endian float32 values
  strings S...                    hex of length-prefixed BYTES elements
  shm_create NAME SIZE [HEX]      create /dev/shm/NAME (POSIX shm) with content
  shm_read NAME OFF LEN           hex of LEN bytes at OFF
  shm_unlink NAME
  cuda_alloc LIB SIZE HEX         cudaMalloc through LIB, copy HEX in, print the
                                  IPC handle in libb64 style (newline every 72
                                  chars and a trailing one, as the C++ client
                                  sends it), JSON-escaped; memory is left alive
  cuda_read LIB B64 OFF LEN       open the handle, print hex of LEN bytes at OFF
  cuda_free LIB B64               unlink the segment named by the handle
"""
import base64
import ctypes
import json
import os
import struct
import sys


def i32(vals):
    return b"".join(struct.pack("<i", int(v)) for v in vals)


def handle_of(b64):
    raw = base64.b64decode("".join(b64.split()))
    assert len(raw) == 64
    return raw


class Handle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * 64)]


def main(argv):
    cmd = argv[1]
    if cmd == "body":
        head = argv[3].encode()
        blobs = b"".join(bytes.fromhex(h) for h in argv[4:])
        with open(argv[2], "wb") as f:
            f.write(head + blobs)
        print(len(head))
    elif cmd == "split":
        data = open(argv[2], "rb").read()
        n = int(argv[3]) if argv[3] else len(data)
        head = json.loads(data[:n])
        print(json.dumps(head, separators=(",", ":")))
        off = n
        for o in head.get("outputs", []):
            size = o.get("parameters", {}).get("binary_data_size")
            if size is not None:
                print(data[off:off + size].hex())
                off += size
        assert off == len(data), "trailing bytes in response"
    elif cmd == "i32":
        print(i32(argv[2:]).hex())
    elif cmd == "f32":
        print(b"".join(struct.pack("<f", float(v)) for v in argv[2:]).hex())
    elif cmd == "strings":
        print(b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in argv[2:]).hex())
    elif cmd == "shm_create":
        size = int(argv[3])
        content = bytes.fromhex(argv[4]) if len(argv) > 4 else b""
        with open("/dev/shm/" + argv[2], "wb") as f:
            f.write(content.ljust(size, b"\0"))
    elif cmd == "shm_read":
        with open("/dev/shm/" + argv[2], "rb") as f:
            f.seek(int(argv[3]))
            print(f.read(int(argv[4])).hex())
    elif cmd == "shm_unlink":
        try:
            os.unlink("/dev/shm/" + argv[2])
        except FileNotFoundError:
            pass
    elif cmd.startswith("cuda_"):
        lib = ctypes.CDLL(argv[2])
        lib.cudaIpcOpenMemHandle.argtypes = [ctypes.POINTER(ctypes.c_void_p), Handle, ctypes.c_uint]
        lib.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if cmd == "cuda_alloc":
            size, data = int(argv[3]), bytes.fromhex(argv[4])
            ptr = ctypes.c_void_p()
            assert lib.cudaSetDevice(0) == 0
            assert lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(size)) == 0
            buf = ctypes.create_string_buffer(data, len(data))
            assert lib.cudaMemcpy(ptr, buf, len(data), 1) == 0
            h = Handle()
            assert lib.cudaIpcGetMemHandle(ctypes.byref(h), ptr) == 0
            b64 = base64.b64encode(ctypes.string_at(ctypes.addressof(h), 64)).decode()
            b64 = "\n".join(b64[i:i + 72] for i in range(0, len(b64), 72)) + "\n"
            print(json.dumps(b64)[1:-1])
            os._exit(0)  # leave the segment alive for the server
        raw = handle_of(argv[3].encode().decode("unicode_escape"))
        name = "/dev/shm" + raw[4:raw.index(b"\0", 4)].decode()
        if cmd == "cuda_read":
            h = Handle()
            h.reserved = raw
            ptr = ctypes.c_void_p()
            assert lib.cudaIpcOpenMemHandle(ctypes.byref(ptr), h, 1) == 0
            off, n = int(argv[4]), int(argv[5])
            out = ctypes.create_string_buffer(n)
            assert lib.cudaMemcpy(out, ptr.value + off, n, 2) == 0
            print(out.raw.hex())
            lib.cudaIpcCloseMemHandle(ptr)
        elif cmd == "cuda_free":
            os.unlink(name)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
