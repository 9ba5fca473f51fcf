#!/bin/sh
# ember guest test: virtio-blk with two drives (tests/integration/test_blk_linux.py).
# Expects vda: a writable ext4 image holding /known.bin and /big.bin; vdb: a
# read-only ext4 image holding /ro.txt. One line per check:
#   blk-data.drives  vda=SECTORS:SERIAL:RO vdb=SECTORS:SERIAL:RO (from /sys/block)
#   blk-data.ext4    known=SHA256 of /known.bin; wrote /new-seq.txt (seq 1 50000)
#                    and /copy.bin (a copy of /known.bin), synced, unmounted
#   blk-data.trim    trimmed=BYTES: rm /big.bin, sync, fstrim (the host sees holes)
#   blk-data.ro      ro.txt=SHA256 dd=ERROR: mount -o ro works; a file and a raw
#                    O_DIRECT write to /dev/vdb both fail
rc=0
pass() { echo "EMBER-TEST blk-data.$1 PASS $2"; }
fail() { echo "EMBER-TEST blk-data.$1 FAIL $2"; rc=1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

drives=
for d in vda vdb; do
    if [ -e /sys/block/$d ]; then
        drives="$drives $d=$(cat /sys/block/$d/size):$(cat /sys/block/$d/serial 2>/dev/null):$(cat /sys/block/$d/ro)"
    else
        drives="$drives $d=missing"
    fi
done
case $drives in
    *missing*) fail drives "${drives# }" ;;
    *) pass drives "${drives# }" ;;
esac

mkdir -p /mnt/data /mnt/ro
if mount -t ext4 /dev/vda /mnt/data; then
    known=$(sha /mnt/data/known.bin)
    seq 1 50000 > /mnt/data/new-seq.txt && cp /mnt/data/known.bin /mnt/data/copy.bin && sync &&
        pass ext4 "known=$known" || fail ext4 "writing new files failed (known=$known)"
    rm -f /mnt/data/big.bin
    sync
    # busybox fstrim -v: "MOUNTPOINT: N bytes trimmed"
    out=$(fstrim -v /mnt/data 2>&1)
    n=$(echo "$out" | sed -n 's/.*: \([0-9]*\) bytes trimmed.*/\1/p')
    [ -n "$n" ] && pass trim "trimmed=$n" || fail trim "fstrim: $out"
    umount /mnt/data || fail ext4 "umount failed"
else
    fail ext4 "mount /dev/vda failed"
    fail trim "no file system"
fi

if mount -t ext4 -o ro /dev/vdb /mnt/ro; then
    sum=$(sha /mnt/ro/ro.txt)
    if touch /mnt/ro/new 2>/dev/null; then
        fail ro "a file could be created on the read-only mount"
    elif dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/tmp/dd.err; then
        fail ro "a raw write to /dev/vdb succeeded"
    else
        err=$(grep -v '^[0-9]* records' /tmp/dd.err | head -n 1)
        pass ro "ro.txt=$sum dd=${err:-failed}"
    fi
    umount /mnt/ro
else
    fail ro "mount -o ro /dev/vdb failed"
fi
exit $rc
