#!/bin/sh
# ember guest test (tests/integration/test_api_linux.py): a counter for
# PATCH /vm Paused / Resumed. Prints "EMBER-TEST api-ticks PASS ticking",
# then every 100 ms a line "EMBER-TICK <n> <uptime s> <epoch s>"
# (/proc/uptime and date +%s: the host checks that the output stops while
# the VM is paused and that neither clock goes backwards). The host stops
# ember when it is done; a FAIL line after 1200 ticks (~2 minutes) without it.
echo "EMBER-TEST api-ticks PASS ticking"
i=0
while [ $i -lt 1200 ]; do
    read up idle < /proc/uptime
    echo "EMBER-TICK $i $up $(date +%s)"
    i=$((i + 1))
    sleep 0.1
done
echo "EMBER-TEST api-ticks FAIL the host did not stop the VM within 1200 ticks"
exit 1
