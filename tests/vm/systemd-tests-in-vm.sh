#!/usr/bin/env bash
# systemd-tests-in-vm.sh - the systemd tier on cgroup v2: corral_systemd_tests
# (the systemd-scope backend against a real systemd 252 booted as PID 1 of a
# throw-away namespace container, tests/systemd/) inside a QEMU VM that boots
# Debian's own 6.1 kernel with a pure cgroup v2 hierarchy (tests/vm/run-vm.sh
# --host-root: the VM's root is this machine's "/" over virtio-9p under a
# tmpfs overlay, so the VM has the same systemd, dbus and build tree).
#
# usage: tests/vm/systemd-tests-in-vm.sh [--timeout S] BUILD_DIR [-- CATCH2_ARGS...]
#
#   Runs BUILD_DIR/tests/corral_systemd_tests once (one container for every test
#   case: systemd takes about 20 s to boot under TCG), with CATCH2_ARGS; its
#   output, Catch2's totals included, comes back over the serial console.
#   --timeout  the whole tier, set-up and boot included (default 285: below
#              ctest's TIMEOUT of 300, so that a slow run fails with its reason)
#
# environment: CORRAL_SKIP_VM_TESTS=1 skips the tier (it prints
# 'corral-test-tier skipped: …', ctest's SKIP_REGULAR_EXPRESSION, and exits 77); nothing else does: a tier that cannot run fails, saying
# why. Also read by run-vm.sh: CORRAL_VM_CACHE, CORRAL_VM_REFRESH,
# CORRAL_VM_APPEND, CORRAL_VM_QEMU_ARGS.
#
# exit status: 0 every test passed; 1 a test failed or the tier could not run;
# 2 usage error; 77 skipped by CORRAL_SKIP_VM_TESTS=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START=$(date +%s)

fail() { echo "vm systemd tier: $*" >&2; exit 1; }
usage() {
    echo "vm systemd tier: $*" >&2
    echo "usage: $0 [--timeout S] BUILD_DIR [-- CATCH2_ARGS...]" >&2
    exit 2
}

if [ "${CORRAL_SKIP_VM_TESTS:-}" = 1 ]; then
    echo "corral-test-tier skipped: vm systemd tier disabled by CORRAL_SKIP_VM_TESTS=1"
    exit 77
fi

TIMEOUT=285
POSITIONAL=()
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) [ $# -ge 2 ] || usage "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        -*) usage "unknown option '$1'" ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
case $TIMEOUT in ''|*[!0-9]*) usage "--timeout takes whole seconds, got '$TIMEOUT'" ;; esac
[ ${#POSITIONAL[@]} = 1 ] || usage "expected BUILD_DIR, got ${#POSITIONAL[@]} arguments before '--'"
BUILD=${POSITIONAL[0]}
[ -d "$BUILD" ] || fail "build directory $BUILD does not exist (configure and build first: make build)"
BUILD=$(cd "$BUILD" && pwd)
TESTS_BIN=$BUILD/tests/corral_systemd_tests
for f in "$BUILD/corral" "$TESTS_BIN"; do
    [ -x "$f" ] || fail "$f is missing or not executable: build it first (cmake --build $BUILD)"
done
for f in /lib/systemd/systemd /usr/bin/dbus-daemon /bin/busybox; do
    [ -x "$f" ] || fail "$f is missing: apt-get install systemd dbus busybox-static (the VM runs this machine's own)"
done

echo "vm systemd tier: $TESTS_BIN in a cgroup v2 VM (test args: ${*:-none}; timeout ${TIMEOUT}s)"
rc=0
# --durations yes: each test case's time, to tell a slow VM from a stuck test.
"$HERE/run-vm.sh" --host-root --timeout "$TIMEOUT" --memory 2048 --cpus 2 -- "$TESTS_BIN" --durations yes "$@" || rc=$?
wall=$(( $(date +%s) - START ))
if [ "$rc" -eq 0 ]; then
    echo "vm systemd tier: PASSED in ${wall}s"
    exit 0
fi
echo "vm systemd tier: FAILED in ${wall}s: exit status $rc (Catch2: the number of failed test cases; run-vm's reason above otherwise)"
exit 1
