#!/bin/sh
# ember guest test: the guest's clock (from the CMOS RTC / kvmclock), seconds
# since the epoch; the host compares it with its own time.
s=$(date +%s)
case $s in
    ''|*[!0-9]*) echo "EMBER-TEST date FAIL date printed '$s'"; exit 1 ;;
esac
echo "EMBER-TEST date PASS $s"
