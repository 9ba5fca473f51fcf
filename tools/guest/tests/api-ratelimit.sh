#!/bin/sh
# ember guest test (tests/integration/test_api_linux.py): reads 40 MiB with
# dd (4 MiB blocks, O_DIRECT) from /dev/vdb (no rate limiter) and then from
# /dev/vdc (the host gives it a bandwidth limiter); prints the elapsed
# times from /proc/uptime (10 ms resolution):
#   "EMBER-TEST api-ratelimit PASS vdb=<seconds> vdc=<seconds>"
name=api-ratelimit
now() { read up idle < /proc/uptime; echo "$up"; }
timed_read() {
    t0=$(now)
    dd if="$1" of=/dev/null bs=4M count=10 iflag=direct 2>/tmp/dd.err ||
        { echo "EMBER-TEST $name FAIL dd $1: $(cat /tmp/dd.err)"; exit 1; }
    t1=$(now)
    echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}
for d in /dev/vdb /dev/vdc; do
    [ -b $d ] || { echo "EMBER-TEST $name FAIL no $d"; exit 1; }
done
fast=$(timed_read /dev/vdb)
echo "EMBER-RATELIMIT start"
slow=$(timed_read /dev/vdc)
echo "EMBER-RATELIMIT end"
echo "EMBER-TEST $name PASS vdb=$fast vdc=$slow"
