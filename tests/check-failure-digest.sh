#!/usr/bin/env bash
# check-failure-digest.sh - tests/failure-digest.sh on a real ctest run of four
# entries (one passes; one prints a Catch2 failure; one the vm driver's FAIL and
# SKIP lines; one fails with no Catch2 output): the digest names each failed
# entry with its failures in short, and leaves the passing one out.
#
# usage: tests/check-failure-digest.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
fx=$src/tests/fixtures/digest
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(digest NONE)
enable_testing()
add_test(NAME "passes" COMMAND sh -c "echo fine")
add_test(NAME "catch2 fails" COMMAND sh -c "cat '$fx/catch2-failure.txt'; exit 1")
add_test(NAME "vm driver fails" COMMAND sh -c "cat '$fx/vm-driver-failure.txt'; exit 1")
add_test(NAME "plain fails" COMMAND sh -c "for i in 1 2 3 4 5 6 7; do echo line \\\$i; done; exit 3")
CM
cmake -S "$work" -B "$work/b" > /dev/null
(cd "$work/b" && ctest > /dev/null 2>&1) && { echo "FAIL: the fixture's ctest run passed"; exit 1; }
out=$("$src/tests/failure-digest.sh" "$work/b")
printf '%s\n' "$out"
expect=(
    "failure digest (3 ctest entries"
    "- catch2 fails"
    '    test_systemd.cpp:790: FAILED: REQUIRE( field(s, "/oom/records").size() == 1 ) -> 0 == 1  [run --oom-settle: a kernel record that reaches the journal after the suite ended is attributed'
    "- vm driver fails"
    "    FAIL  120.0s  a thing (SIGKILLed after 120s: the per-test limit)"
    "    test_a.cpp:20: FAILED: CHECK( a == b ) -> 1 == 2  [a thing]"
    "    SKIP          rest (not run: the time of the VM tier ran out)"
    "- plain fails"
    "    its last lines:"
    "      line 7"
    "      line 5"
)
rc=0
for e in "${expect[@]}"; do
    grep -qF -- "$e" <<< "$out" || { echo "FAIL: the digest lacks: $e"; rc=1; }
done
grep -q -- "- passes" <<< "$out" && { echo "FAIL: the digest names the entry that passed"; rc=1; }
grep -q -- "line 4" <<< "$out" && { echo "FAIL: the digest of a plain failure shows more than its last 3 lines"; rc=1; }
[ $rc = 0 ] && echo "failure digest: OK"
exit $rc
