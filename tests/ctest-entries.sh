#!/usr/bin/env bash
# Checks the ctest entries of a build directory, so that a tier cannot pass without running:
#  - every entry that runs a Catch2 binary runs it with --warn NoTests (an entry whose name matches no
#    test case fails instead of passing with "No tests ran");
#  - no entry reads an exit status as "skipped" (SKIP_RETURN_CODE: Catch2 exits with the number of
#    failed assertions, so 77 failures would look skipped); host, systemd, vm and browser entries are skipped
#    only on the line their gate prints (SKIP_REGULAR_EXPRESSION);
#  - each gate prints that line when its CORRAL_SKIP_*_TESTS=1 is set.
set -euo pipefail
build=${1:?usage: ctest-entries.sh BUILD_DIR}
skip_line="corral-test-tier skipped: "
json=$(mktemp)
listing=$(mktemp -d)
trap 'rm -rf "$json" "$listing"' EXIT
# ctest run in the build directory rewrites its Testing/Temporary/LastTest.log, the log of the ctest
# run that runs this entry (`make test`), which tests/failure-digest.sh reads when a pass fails: list
# the entries from a copy of the build's CTestTestfile.cmake files instead (they name everything by
# its absolute path).
(cd "$build" && find . -name CTestTestfile.cmake) | while IFS= read -r f; do
    mkdir -p "$listing/$(dirname "$f")"
    cp "$build/$f" "$listing/$f"
done
(cd "$listing" && ctest --show-only=json-v1) >"$json"
/usr/bin/python3 - "$skip_line" "$json" <<'PY' || exit 1
import json, sys
skip_line = sys.argv[1]
tests = json.load(open(sys.argv[2]))["tests"]
bad = []
catch = 0
for t in tests:
    name, cmd = t["name"], t.get("command", [])
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    labels = props.get("LABELS", [])
    if "SKIP_RETURN_CODE" in props:
        bad.append(f"{name}: SKIP_RETURN_CODE {props['SKIP_RETURN_CODE']}")
    if cmd and cmd[0].endswith("_tests"):
        catch += 1
        if "--warn" not in cmd or cmd[cmd.index("--warn") + 1] != "NoTests":
            bad.append(f"{name}: runs {cmd[0]} without --warn NoTests")
    if set(labels) & {"host", "systemd", "vm", "browser"}:
        regex = props.get("SKIP_REGULAR_EXPRESSION", [])
        if skip_line not in regex:
            bad.append(f"{name}: no SKIP_REGULAR_EXPRESSION on '{skip_line}' (has {regex})")
for b in bad:
    print("ctest entry:", b)
if catch == 0:
    print("ctest entries: no Catch2 entry found in", len(tests), "entries")
    sys.exit(1)
print(f"ctest entries: {len(tests)} entries, {catch} of them Catch2 cases, {len(bad)} problems")
sys.exit(1 if bad else 0)
PY
for gate in "CORRAL_SKIP_HOST_TESTS $build/tests/corral_host_tests" \
            "CORRAL_SKIP_SYSTEMD_TESTS $build/tests/corral_systemd_tests"; do
    set -- $gate
    out=$(env "$1=1" "$2" 2>&1) || true
    case $out in
        "$skip_line"*) ;;
        *) echo "ctest entries: $2 with $1=1 did not print '$skip_line…' (printed: ${out:0:200})"; exit 1 ;;
    esac
done
out=$(CORRAL_SKIP_BROWSER_TESTS=1 /usr/bin/python3 "$(dirname "$0")/browser/report-page.py" 2>&1) || true
case $out in
    "$skip_line"*) ;;
    *) echo "ctest entries: tests/browser/report-page.py with CORRAL_SKIP_BROWSER_TESTS=1 did not print '$skip_line…' (printed: ${out:0:200})"; exit 1 ;;
esac
echo "ctest entries: the host, systemd and browser gates print the skip line"
