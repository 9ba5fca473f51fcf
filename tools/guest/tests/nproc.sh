#!/bin/sh
# ember guest test: number of online CPUs (the host compares it with --cpus).
n=$(nproc)
case $n in
    ''|*[!0-9]*) echo "EMBER-TEST nproc FAIL nproc printed '$n'"; exit 1 ;;
esac
echo "EMBER-TEST nproc PASS $n"
