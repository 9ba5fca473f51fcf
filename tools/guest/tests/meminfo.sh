#!/bin/sh
# ember guest test: MemTotal from /proc/meminfo, in KiB.
kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
case $kib in
    ''|*[!0-9]*) echo "EMBER-TEST meminfo FAIL no MemTotal in /proc/meminfo"; exit 1 ;;
esac
echo "EMBER-TEST meminfo PASS $kib"
