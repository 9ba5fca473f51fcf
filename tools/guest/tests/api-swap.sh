#!/bin/sh
# ember guest test (tests/integration/test_api_linux.py): the host swaps the
# backing file of /dev/vdb with PATCH /drives/{id} {path_on_host} twice.
# Each image starts with a 12-byte marker (EMBER-SWAP-0, -1, -2) and ends
# with a 512-byte sector starting with EMBER-TAIL-0, -1, -2.
#   1. prints "before size=<sectors> data=<marker> tail=<marker>";
#   2. the host swaps in an image of the same size: no configuration change,
#      so the guest re-reads sector 0 with O_DIRECT (no page cache) every
#      100 ms until the marker changes; prints "same-size ...";
#   3. the host swaps in a larger image: virtio-blk's configuration-change
#      interrupt makes Linux update the capacity; the guest polls
#      /sys/block/vdb/size until it changes, prints "resized ..." with the
#      new last sector's marker.
dev=/dev/vdb
name=api-swap
mark() { dd if=$dev bs=512 skip="$1" count=1 iflag=direct 2>/dev/null | head -c 12; }
state() {
    size=$(cat /sys/block/vdb/size)
    echo "size=$size data=$(mark 0) tail=$(mark $((size - 1)))"
}
wait_for() {  # $1: a shell test; up to 60 s
    n=0
    while ! eval "$1"; do
        n=$((n + 1))
        if [ $n -gt 600 ]; then
            echo "EMBER-TEST $name FAIL waited 60 s for: $1 ($(state))"
            exit 1
        fi
        sleep 0.1
    done
}
[ -b $dev ] || { echo "EMBER-TEST $name FAIL no $dev"; exit 1; }
size0=$(cat /sys/block/vdb/size)
data0=$(mark 0)
echo "EMBER-TEST $name PASS before $(state)"
wait_for '[ "$(mark 0)" != "$data0" ]'
echo "EMBER-TEST $name PASS same-size $(state)"
wait_for '[ "$(cat /sys/block/vdb/size)" != "$size0" ]'
echo "EMBER-TEST $name PASS resized $(state)"
