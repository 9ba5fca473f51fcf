#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtq (tests/fuzz/corpus/virtq/): a few
well-formed and a few hostile rings in the input layout fuzz_virtq.c
documents. Re-run after changing that layout."""
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpus" / "virtq"
DATA_GPA = 0x4000
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def seed(flags, log2size, descs, heads, data=b"", used_event=0):
    size = 1 << log2size
    table = b"".join(descs).ljust(16 * size, b"\0")
    ring = [h for h in heads] + [0] * (size - len(heads))
    avail = struct.pack("<HH", 0, len(heads)) + struct.pack(f"<{size}H", *ring)
    avail += struct.pack("<H", used_event)
    return bytes([flags, log2size]) + table + avail + data


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = {
        # readable header, writable payload, two chains
        "normal": seed(0, 3, [desc(0x5000, 16, F_NEXT, 1), desc(0x5100, 64, F_WRITE),
                              desc(0x10000, 32, F_WRITE)], [0, 2]),
        # one indirect table of three at DATA_GPA
        "indirect": seed(2, 2, [desc(DATA_GPA, 48, F_INDIRECT)], [0],
                         desc(0x5000, 8, F_NEXT, 1) + desc(0x5100, 8, F_WRITE | F_NEXT, 2)
                         + desc(0x10100, 100, F_WRITE)),
        # EVENT_IDX with a used_event to cross
        "event_idx": seed(1, 4, [desc(0x5000 + 64 * i, 64, F_WRITE) for i in range(4)],
                          [0, 1, 2, 3], used_event=2),
        # hostile: a loop, a buffer across the hole, an index jump
        "loop": seed(0, 3, [desc(0x5000, 8, F_NEXT, 1), desc(0x5000, 8, F_NEXT, 0)], [0]),
        "hole": seed(0, 1, [desc(0x8000 - 8, 16, F_WRITE)], [0]),
        "nested_indirect": seed(2, 1, [desc(DATA_GPA, 16, F_INDIRECT)], [0],
                                desc(DATA_GPA + 0x100, 16, F_INDIRECT)),
        # custom ring addresses: misaligned descriptor table
        "ring_addrs": bytes([4, 2]) + struct.pack("<QQQ", 0x1008, 0x2000, 0x3000),
    }
    for name, blob in seeds.items():
        (OUT / name).write_bytes(blob)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
