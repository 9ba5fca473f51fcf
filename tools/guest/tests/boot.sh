#!/bin/sh
# ember guest test: the guest booted to /init. Detail: the kernel release.
echo "EMBER-TEST boot PASS kernel=$(uname -r)"
