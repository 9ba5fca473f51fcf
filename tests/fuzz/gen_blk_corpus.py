#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_blk_request (tests/fuzz/corpus/blk_request/):
well-formed requests of every type and a few broken ones, in the input
layout fuzz_blk_request.c documents. Re-run after changing that layout."""
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpus" / "blk_request"
RO, DISCARD, WZ, SMALLCAP = 1, 2, 4, 8
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13


def hdr(t, sector=0):
    return struct.pack("<IIQ", t, 0, sector)


def dwz(sector, n, flags=0):
    return struct.pack("<QII", sector, n, flags)


def seed(flags, capacity, segs, seg_max=7):
    """segs: list of (bytes, writable); lengths are encoded as len - 1."""
    out = bytes([flags]) + struct.pack("<Q", capacity) + bytes([seg_max, len(segs)])
    for body, w in segs:
        out += struct.pack("<HB", len(body) - 1, 1 if w else 0)
    return out + b"".join(body for body, _ in segs)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    st = (b"\xee", True)
    seeds = {
        "read": seed(DISCARD | WZ, 2048, [(hdr(T_IN, 8), False), (b"\0" * 1024, True), st]),
        "write_two_segs": seed(0, 2048, [(hdr(T_OUT, 2046), False), (b"a" * 512, False),
                                         (b"b" * 512, False), st]),
        "write_ro": seed(RO, 2048, [(hdr(T_OUT, 0), False), (b"a" * 512, False), st]),
        "read_past_end": seed(SMALLCAP, 100, [(hdr(T_IN, 99), False), (b"\0" * 1024, True), st]),
        "read_overflow": seed(0, 2048, [(hdr(T_IN, 2**64 - 1), False), (b"\0" * 512, True), st]),
        "split_header": seed(0, 2048, [(hdr(T_OUT, 4)[:8], False),
                                       (hdr(T_OUT, 4)[8:] + b"x" * 512, False), st]),
        "data_with_status": seed(0, 2048, [(hdr(T_IN, 0), False), (b"\0" * 513, True)]),
        "flush": seed(0, 2048, [(hdr(T_FLUSH), False), st]),
        "get_id": seed(0, 2048, [(hdr(T_GET_ID), False), (b"\0" * 20, True), st]),
        "get_id_short": seed(0, 2048, [(hdr(T_GET_ID), False), (b"\0" * 19, True), st]),
        "discard": seed(DISCARD, 2048, [(hdr(T_DISCARD), False), (dwz(8, 8), False), st]),
        "discard_unmap": seed(DISCARD, 2048, [(hdr(T_DISCARD), False), (dwz(8, 8, 1), False), st]),
        "write_zeroes_unmap": seed(WZ, 2048, [(hdr(T_WZ) + dwz(0, 2048, 1), False), st]),
        "write_zeroes_two": seed(WZ, 2048, [(hdr(T_WZ), False), (dwz(0, 1) + dwz(9, 1), False), st]),
        "unknown_type": seed(0, 2048, [(hdr(99), False), st]),
        "header_writable": seed(0, 2048, [(hdr(T_IN), True), st]),
        "no_status": seed(0, 2048, [(hdr(T_OUT), False), (b"a" * 512, False)]),
        "too_many_segs": seed(0, 2048, [(hdr(T_IN), False)] + [(b"\0" * 512, True)] * 9 + [st],
                              seg_max=1),
    }
    for name, blob in seeds.items():
        (OUT / name).write_bytes(blob)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
