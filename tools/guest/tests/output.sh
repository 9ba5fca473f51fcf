#!/bin/sh
# ember guest test: 1 MiB of deterministic console output.
#
# Exact format, so the host can regenerate and compare it:
#   EMBER-OUTPUT-BEGIN\n
#   16384 lines, for i = 0 .. 16383:
#     printf("%05d:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234\n", i)
#     i.e. 5 digits, ':', a fixed 57-byte pattern, '\n' = 64 bytes per line,
#     16384 * 64 = 1048576 bytes in all
#   EMBER-OUTPUT-END\n
#   EMBER-TEST output PASS 1048576\n
# When stdout is a tty (the serial console), its output post-processing (onlcr)
# is switched off for the 16384 lines, so they reach the host byte for byte;
# the marker lines around them end in "\r\n" as usual. A host that reads a
# console where onlcr stayed on may simply drop every '\r'.
# Python: b"".join(b"%05d:%s\n" % (i, PAT) for i in range(16384)).
echo "EMBER-OUTPUT-BEGIN"
tty=0
if [ -t 1 ]; then stty -onlcr <&1 2>/dev/null && tty=1; fi
awk 'BEGIN {
    pat = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234"
    for (i = 0; i < 16384; i++) printf "%05d:%s\n", i, pat
}'
rc=$?
[ $tty = 1 ] && stty onlcr <&1 2>/dev/null
echo "EMBER-OUTPUT-END"
if [ $rc -eq 0 ]; then
    echo "EMBER-TEST output PASS 1048576"
else
    echo "EMBER-TEST output FAIL awk exit status $rc"
    exit 1
fi
