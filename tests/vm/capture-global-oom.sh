#!/bin/sh
# capture-global-oom.sh - the kernel's own /dev/kmsg records of a real global OOM
# (CONSTRAINT_NONE), captured in the test VM (tests/vm/run-vm.sh: Debian's 6.1
# kernel, its own 2048 MiB, no swap) for tests/fixtures/oom/: corral runs the
# allocator (build/progs/alloc) with no memory.max until the VM's RAM runs out
# and the kernel's OOM killer kills it.
#
# usage: tests/vm/capture-global-oom.sh BUILD_DIR OUTPUT_FILE
#
#   OUTPUT_FILE gets the OOM report's records as /dev/kmsg gives them, one a
#   line ("PRI,SEQ,TS_US,FLAGS;text"), from "… invoked oom-killer:" through the
#   "oom_reaper: reaped process" line (or "Killed process" when the reaper said
#   nothing), with whatever the kernel logged in between; the fixture format of
#   tests/unit/test_oom_record.cpp. The VM's console log, corral's report and
#   the MemTotal/MemAvailable the size came from are printed on stdout.
#
#   Inside the VM the script runs itself with --inside, which refuses to
#   allocate anything unless /proc/cmdline has CORRAL_TEST_VM=1 (run-vm.sh puts
#   it there) and MemTotal is below 4 GiB: never fill a real machine's memory.
#
# exit status: 0 captured; 1 the VM, corral or the capture failed (said why); 2 usage.
set -eu

if [ "${1:-}" = --inside ]; then
    # ---- inside the VM (busybox sh) ------------------------------------------
    BUILD=$2
    grep -qw CORRAL_TEST_VM=1 /proc/cmdline ||
        { echo "capture: refusing: /proc/cmdline has no CORRAL_TEST_VM=1, this is not the test VM"; exit 1; }
    mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
    avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    [ "$mem_kib" -lt $((4 * 1024 * 1024)) ] ||
        { echo "capture: refusing: MemTotal ${mem_kib} kB is not the test VM's (below 4 GiB)"; exit 1; }
    # Twice the RAM: without swap it can never finish.
    size=$((mem_kib * 2 / 1024))
    echo "CAPTURE: MemTotal ${mem_kib} kB, MemAvailable ${avail_kib} kB: alloc $size MiB, no memory.max"
    rc=0
    # shellcheck disable=SC2016 # $$, $0 and $1 are the inner sh's
    "$BUILD/corral" run --report-dir /tmp/capture --name global --timeout 120s -- \
        sh -c 'echo "pid $$"; exec "$0" "$1" 16' "$BUILD/progs/alloc" "$size" || rc=$?
    echo "CAPTURE: corral exited $rc"
    echo "CAPTURE-REPORT-BEGIN"
    cat /tmp/capture/report.json
    echo
    echo "CAPTURE-REPORT-END"
    # /dev/kmsg from the start of the ring buffer; cat blocks at its end.
    echo "CAPTURE-KMSG-BEGIN"
    timeout 5 cat /dev/kmsg || true
    echo "CAPTURE-KMSG-END"
    exit 0
fi

# ---- on the host -------------------------------------------------------------
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUTPUT_FILE" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
OUT=$2
for f in "$BUILD/corral" "$BUILD/progs/alloc"; do
    [ -x "$f" ] || { echo "capture: $f is missing: build first (cmake --build $BUILD)" >&2; exit 1; }
done
LOG=$(mktemp "${TMPDIR:-/tmp}/capture-global-oom.XXXXXX")
trap 'rm -f "$LOG"' EXIT
rc=0
"$HERE/run-vm.sh" --timeout 240 --memory 2048 --cpus 2 --file "$BUILD/corral" --file "$BUILD/progs/alloc" \
    -- "$HERE/capture-global-oom.sh" --inside "$BUILD" | tee "$LOG" || rc=$?
[ "$rc" -eq 0 ] || { echo "capture: the VM run failed (status $rc, see above)" >&2; exit 1; }
awk '
    /^CAPTURE-KMSG-BEGIN/ { inside = 1; next }
    /^CAPTURE-KMSG-END/ { inside = 0 }
    !inside { next }
    / invoked oom-killer: / { started = 1 }
    !started || done { next }
    killed { if (/;oom_reaper: reaped process /) print; done = 1; next }
    { print; if (/;Out of memory: Killed process /) killed = 1 }
' "$LOG" > "$OUT.tmp"
grep -q ';Out of memory: Killed process ' "$OUT.tmp" ||
    { rm -f "$OUT.tmp"; echo "capture: no global OOM kill in the VM's /dev/kmsg (see the console above)" >&2; exit 1; }
mv "$OUT.tmp" "$OUT"
echo "capture: $(wc -l < "$OUT") records in $OUT"
