#!/usr/bin/env bash
# README command 2: install what is needed, build ember (plain and with
# ASan+UBSan) and the guest kit, run every test, and end with one line
# "N passed, N failed, N skipped". Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 1
bash scripts/build.sh --asan || { echo "build failed"; exit 1; }
bash tools/guest/build-kit.sh build/guest-kit >build/guest-kit.log 2>&1 ||
	{ tail -20 build/guest-kit.log; echo "guest kit build failed"; exit 1; }

status=0
# One meson invocation per build: each rewrites its meson-logs/testlog.json.
echo "== unit tests, and the software CPU against the host CPU (difftest: 200,000 fixed-seed cases)"
meson test -C build --suite unit --suite difftest --print-errorlogs -q || status=1
echo "== unit tests under AddressSanitizer + UBSan (build-asan/)"
meson test -C build-asan --suite unit --print-errorlogs -q || status=1
echo "== integration tests (pytest)"
# The ASan build boots a guest too (tests marked asan): no leak, no UB on a whole boot.
EMBER_BUILD=build EMBER_ASAN_BUILD=build-asan /usr/bin/python3 -m pytest tests/integration \
	-q -rs --junitxml=build/pytest.xml "$@"
rc=$?
# pytest's 5 means "no tests collected": count that as a failure of the suite.
((rc == 0)) || status=1

/usr/bin/python3 scripts/summarize.py build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json build/pytest.xml || status=1
exit $status
