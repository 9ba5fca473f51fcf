#!/usr/bin/env python3
"""Adds up meson's testlog.json files and pytest's JUnit XML into one line:
"N passed, N failed, N skipped". Exits 1 if anything failed or nothing ran."""
import json
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        if path.endswith(".json"):
            with open(path) as f:
                for line in f:
                    result = json.loads(line).get("result", "")
                    if result == "OK" or result == "EXPECTEDFAIL":
                        passed += 1
                    elif result == "SKIP":
                        skipped += 1
                    else:
                        failed += 1
        else:
            for case in ET.parse(path).getroot().iter("testcase"):
                kinds = {child.tag for child in case}
                if kinds & {"failure", "error"}:
                    failed += 1
                elif "skipped" in kinds:
                    skipped += 1
                else:
                    passed += 1
    except (OSError, ET.ParseError, json.JSONDecodeError) as e:
        print(f"summarize: cannot read {path}: {e}", file=sys.stderr)
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
