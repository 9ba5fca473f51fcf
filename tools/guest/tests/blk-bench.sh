#!/bin/sh
# ember guest test: the block I/O benchmark's load (bench/blk). Runs on
# /dev/vda (a scratch drive of at least 256 MiB: its contents are overwritten),
# all with O_DIRECT so that every dd block goes to the device at once:
#   seqwrite       P passes of dd, 64 x 4 MiB from /dev/zero (P: ember.blk_passes=,
#                  default 4: 1 GiB)
#   seqread        P passes of dd, 64 x 4 MiB to /dev/null
#   read4k-qd1     one dd, N x 4 KiB reads (N: ember.blk_n=, default 4096)
#   write4k-qd1    one dd, N x 4 KiB writes
#   read4k-32jobs  32 dd at once, each M x 4 KiB reads in its own 8 MiB
#                  region (M: ember.blk_m=, default 128): up to 32 in flight
#   write4k-32jobs the same, writes
# Each phase is framed by "EMBER-BENCH begin NAME" and
# "EMBER-BENCH end NAME bytes=B blocks=N reqs=R" (N: dd blocks; R: requests the
# disk completed, from /sys/block/vda/stat), which the host times; then
# "EMBER-TEST blk-bench PASS phases=6". busybox has no fio and no random-offset
# reader: the 4 KiB phases read consecutive offsets, which makes no difference
# to a device whose requests go to the host one by one.
n=4096
m=128
passes=4
for w in $(cat /proc/cmdline); do
    case $w in
        ember.blk_n=*) n=${w#ember.blk_n=} ;;
        ember.blk_m=*) m=${w#ember.blk_m=} ;;
        ember.blk_passes=*) passes=${w#ember.blk_passes=} ;;
    esac
done
dev=/dev/vda
fail() { echo "EMBER-TEST blk-bench FAIL $*"; exit 1; }
[ -b $dev ] || fail "no $dev"
[ "$(cat /sys/block/vda/size)" -ge 524288 ] || fail "$dev is smaller than 256 MiB"
done_reqs() { # reads + writes completed (fields 1 and 5)
    set -- $(cat /sys/block/vda/stat)
    echo $(($1 + $5))
}
phase() { # NAME BYTES BLOCKS COMMAND...
    name=$1 bytes=$2 blocks=$3
    shift 3
    r0=$(done_reqs)
    echo "EMBER-BENCH begin $name"
    "$@" || fail "$name failed"
    echo "EMBER-BENCH end $name bytes=$bytes blocks=$blocks reqs=$(($(done_reqs) - r0))"
}
seq_pass() { # read|write: P passes over the first 256 MiB
    for p in $(seq 1 "$passes"); do
        if [ "$1" = read ]; then
            dd if=$dev of=/dev/null bs=4M count=64 iflag=direct 2>/dev/null || return 1
        else
            dd if=/dev/zero of=$dev bs=4M count=64 oflag=direct 2>/dev/null || return 1
        fi
    done
}
jobs() { # read|write M: 32 dd processes at once
    pids=
    for j in $(seq 0 31); do
        if [ "$1" = read ]; then
            dd if=$dev of=/dev/null bs=4096 count="$2" skip=$((j * 2048)) iflag=direct 2>/dev/null &
        else
            dd if=/dev/zero of=$dev bs=4096 count="$2" seek=$((j * 2048)) oflag=direct 2>/dev/null &
        fi
        pids="$pids $!"
    done
    st=0
    for p in $pids; do wait "$p" || st=1; done
    return $st
}
phase seqwrite $((passes * 64 << 22)) $((passes * 64)) seq_pass write
phase seqread $((passes * 64 << 22)) $((passes * 64)) seq_pass read
phase read4k-qd1 $((n * 4096)) $n dd if=$dev of=/dev/null bs=4096 count=$n iflag=direct 2>/dev/null
phase write4k-qd1 $((n * 4096)) $n dd if=/dev/zero of=$dev bs=4096 count=$n oflag=direct 2>/dev/null
phase read4k-32jobs $((32 * m * 4096)) $((32 * m)) jobs read $m
phase write4k-32jobs $((32 * m * 4096)) $((32 * m)) jobs write $m
echo "EMBER-TEST blk-bench PASS phases=6"
