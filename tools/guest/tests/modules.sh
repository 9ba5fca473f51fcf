#!/bin/sh
# ember guest test: the virtio modules from the initramfs got loaded.
# PASS when virtio_mmio or virtio_blk is loaded; detail: all loaded modules,
# comma-separated, as listed in /proc/modules.
list=$(awk '{ printf "%s%s", sep, $1; sep = "," }' /proc/modules)
case ",$list," in
    *,virtio_mmio,*|*,virtio_blk,*) echo "EMBER-TEST modules PASS $list" ;;
    *) echo "EMBER-TEST modules FAIL loaded: ${list:-none}"; exit 1 ;;
esac
