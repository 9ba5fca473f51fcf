#!/bin/sh
# ember guest test: acknowledged writes survive kill -9 of the VMM
# (tests/integration/test_blk_linux.py). vda: ext4 holding /src.bin; vdb: a
# raw drive. Copies /src.bin to /synced.bin on vda (then sync: a journal
# commit and a FLUSH) and to vdb at byte 65536 (dd conv=fsync: a FLUSH), then
# prints "EMBER-TEST blk-durable PASS synced" and waits to be killed.
fail() { echo "EMBER-TEST blk-durable FAIL $*"; exit 1; }
mkdir -p /mnt/d
mount -t ext4 /dev/vda /mnt/d || fail "mount /dev/vda failed"
cp /mnt/d/src.bin /mnt/d/synced.bin || fail "cp failed"
dd if=/mnt/d/src.bin of=/dev/vdb bs=65536 seek=1 conv=fsync 2>/dev/null || fail "dd to /dev/vdb failed"
sync
echo "EMBER-TEST blk-durable PASS synced"
sleep 600
fail "still running 600 s after the sync"
