#!/bin/sh
# ember guest test (tests/integration/test_api_linux.py): the root drive the
# Firecracker API configured (PUT /drives/rootfs) is /dev/vda, an ext4 image
# the host made with a file `ember-marker` in it. Mounts it, prints the
# marker, writes `from-guest` back (the host reads it once the VM is over)
# and unmounts. Detail: marker=<text> cpus=<online CPUs> mem_kib=<MemTotal>,
# for the host to compare with PUT /machine-config.
mkdir -p /mnt/root
if ! mount -t ext4 /dev/vda /mnt/root; then
    echo "EMBER-TEST api-rootfs FAIL cannot mount /dev/vda as ext4"
    exit 1
fi
marker=$(cat /mnt/root/ember-marker)
echo "guest $(uname -r) read $marker" > /mnt/root/from-guest
sync
umount /mnt/root || { echo "EMBER-TEST api-rootfs FAIL umount"; exit 1; }
cpus=$(grep -c '^processor' /proc/cpuinfo)
kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
echo "EMBER-TEST api-rootfs PASS marker=$marker cpus=$cpus mem_kib=$kib"
