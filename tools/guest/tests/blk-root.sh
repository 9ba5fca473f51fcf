#!/bin/sh
# ember guest test: the root= drive as a root file system
# (tests/integration/test_blk_linux.py). The kit's /init stays in the
# initramfs, so this does what a switch_root would: mounts the root= device
# (from /proc/cmdline) on /newroot and runs the image's own busybox there with
# chroot. The image holds /bin/busybox, /etc/ember-root-id and empty /proc, /tmp.
# PASS detail: root=DEVICE id=<contents of /etc/ember-root-id> kernel=RELEASE
# (the kernel release as read through /proc mounted inside the new root), after
# writing /from-root.txt ("written in the new root") there and syncing.
root=
for w in $(cat /proc/cmdline); do
    case $w in root=*) root=${w#root=} ;; esac
done
fail() { echo "EMBER-TEST blk-root FAIL $*"; exit 1; }
[ -n "$root" ] || fail "no root= on the command line"
[ -b "$root" ] || fail "root=$root is not a block device"
mkdir -p /newroot
mount -t ext4 "$root" /newroot || fail "mount $root failed"
[ -e /newroot/etc/ember-tests ] && fail "$root holds the initramfs's files"
# Inside: the image's busybox, its files, none of the initramfs's.
inside=$(chroot /newroot /bin/busybox sh -c '
    /bin/busybox mount -t proc proc /proc || exit 1
    [ -e /etc/ember-tests ] && exit 2
    echo "written in the new root" > /from-root.txt || exit 3
    /bin/busybox sync
    echo "id=$(/bin/busybox cat /etc/ember-root-id) kernel=$(/bin/busybox cat /proc/sys/kernel/osrelease)"
    /bin/busybox umount /proc') || fail "the command in the new root failed ($?)"
umount /newroot || fail "umount $root failed"
echo "EMBER-TEST blk-root PASS root=$root $inside"
