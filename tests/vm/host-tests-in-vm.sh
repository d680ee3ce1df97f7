#!/usr/bin/env bash
# host-tests-in-vm.sh - the VM tier: the host-integration tests (corral_host_tests)
# inside a QEMU VM that boots Debian's own 6.1 kernel with a pure cgroup v2
# hierarchy (tests/vm/run-vm.sh), whatever the host machine's cgroup set-up is.
#
# usage: tests/vm/host-tests-in-vm.sh [--timeout S] [--test-limit S] [--cgroup PATH]
#                                     BUILD_DIR [SOURCE_DIR] [-- CATCH2_ARGS...]
#
#   Ships into the VM, at the same absolute paths: BUILD_DIR/corral,
#   BUILD_DIR/tests/corral_host_tests, every program in BUILD_DIR/progs, the
#   files of SOURCE_DIR (default: this checkout) that the host tests read
#   (profiles/, tests/pysuite/, docs/report-schema.json, tests/validate-report.py),
#   util-linux's unshare (busybox's has no --cgroup) and setpriv, dash as sh
#   (Debian's /bin/sh), with their libraries, and Debian's /usr/bin/python3
#   with what `python3 -m pytest [-n N]` on a project importing
#   prometheus_client and tests/validate-report.py (jsonschema) need
#   (tests/vm/python-files.py; `make deps` installs python3-pytest
#   python3-pytest-xdist python3-prometheus-client python3-jsonschema).  Inside,
#   host-tests-driver.sh runs each test case in a process of its own and prints
#   PASS/FAIL lines and Catch2's totals on the serial console, which comes back
#   on stdout.
#
#   CATCH2_ARGS: test specs choose the test cases, as Catch2 v2 reads them
#   ('[memory]', a name, 'alloc*'; a comma is "or", several arguments are
#   "and"); options (starting with '-', values as --opt=value) go to every run.
#   --timeout     the whole tier, set-up and boot included (default 600: below
#                 ctest's TIMEOUT of 620, so that a slow run fails with its reason)
#   --test-limit  one test case inside the VM, then SIGKILL (default 120)
#   --cgroup      run the tests in this cgroup instead of the root, e.g.
#                 /user.slice/session.scope (see run-vm.sh)
#
# environment: CORRAL_SKIP_VM_TESTS=1 skips the tier (it prints
# 'corral-test-tier skipped: …', ctest's SKIP_REGULAR_EXPRESSION, and exits 77); nothing else does: a VM tier that cannot run fails, saying why.
# Also read by run-vm.sh: CORRAL_VM_CACHE, CORRAL_VM_REFRESH, CORRAL_VM_APPEND,
# CORRAL_VM_QEMU_ARGS.
#
# exit status: 0 every test passed; 1 a test failed or the tier could not run;
# 2 usage error; 77 skipped by CORRAL_SKIP_VM_TESTS=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START=$(date +%s)

fail() { echo "vm tier: $*" >&2; exit 1; }
usage() {
    echo "vm tier: $*" >&2
    echo "usage: $0 [--timeout S] [--test-limit S] [--cgroup PATH] BUILD_DIR [SOURCE_DIR] [-- CATCH2_ARGS...]" >&2
    exit 2
}

if [ "${CORRAL_SKIP_VM_TESTS:-}" = 1 ]; then
    echo "corral-test-tier skipped: vm tier disabled by CORRAL_SKIP_VM_TESTS=1"
    exit 77
fi

TIMEOUT=600
TEST_LIMIT=120
CGROUP_ARGS=()
POSITIONAL=()
while [ $# -gt 0 ]; do
    case $1 in
        --timeout)    [ $# -ge 2 ] || usage "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --test-limit) [ $# -ge 2 ] || usage "--test-limit needs a value"; TEST_LIMIT=$2; shift 2 ;;
        --cgroup)     [ $# -ge 2 ] || usage "--cgroup needs a path"; CGROUP_ARGS=(--cgroup "$2"); shift 2 ;;
        --) shift; break ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        -*) usage "unknown option '$1'" ;;
        *) POSITIONAL+=("$1"); shift ;;
    esac
done
for n in "$TIMEOUT" "$TEST_LIMIT"; do
    case $n in ''|*[!0-9]*) usage "--timeout and --test-limit take whole seconds, got '$n'" ;; esac
done
case ${#POSITIONAL[@]} in
    1) BUILD=${POSITIONAL[0]}; SRC=$(cd "$HERE/../.." && pwd) ;;
    2) BUILD=${POSITIONAL[0]}; SRC=${POSITIONAL[1]} ;;
    *) usage "expected BUILD_DIR [SOURCE_DIR], got ${#POSITIONAL[@]} arguments before '--'" ;;
esac
[ -d "$BUILD" ] || fail "build directory $BUILD does not exist (configure and build first: make build)"
[ -d "$SRC" ] || fail "source directory $SRC does not exist"
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$SRC" && pwd)

# ---- what the VM needs -----------------------------------------------------
TESTS_BIN=$BUILD/tests/corral_host_tests
FILES=()
for f in "$BUILD/corral" "$TESTS_BIN"; do
    [ -x "$f" ] || fail "$f is missing or not executable: build it first (cmake --build $BUILD)"
    FILES+=("$f")
done
shopt -s nullglob
progs=("$BUILD"/progs/*)
shopt -u nullglob
[ ${#progs[@]} -gt 0 ] || fail "no test programs in $BUILD/progs: build them first (cmake --build $BUILD --target test_progs)"
for f in "${progs[@]}"; do [ -f "$f" ] && [ -x "$f" ] && FILES+=("$f"); done
# Source files the host tests read through CORRAL_SOURCE_DIR (source_dir() in
# tests/host): the example profile, which also runs build/progs/... relative to
# the source tree, as a test expects when BUILD_DIR is SOURCE_DIR/build.
FILES+=("$SRC/profiles")
# The small real pytest project the host tests run under corral (tests/pysuite).
FILES+=("$SRC/tests/pysuite")
# The schema every report the host tests read is validated against, and its validator
# (tests/host/report_schema.cpp runs it with the python3 below, jsonschema among its ROOTS).
FILES+=("$SRC/docs/report-schema.json" "$SRC/tests/validate-report.py")
# util-linux unshare: `unshare --cgroup` is one test's way into a cgroup namespace.
UNSHARE=$(command -v unshare) || fail "unshare (util-linux) not found: apt-get install util-linux"
grep -q -- '--cgroup' <<< "$("$UNSHARE" --help 2>&1)" ||
    fail "$UNSHARE has no --cgroup option: util-linux's unshare is needed"
FILES+=("$UNSHARE")
# util-linux setpriv: a test runs corral as an unprivileged user (busybox has none).
SETPRIV=$(command -v setpriv) || fail "setpriv (util-linux) not found: apt-get install util-linux"
FILES+=("$SETPRIV")
# dash as /bin/sh, as on Debian: profiles' string commands (/bin/sh -c) and the
# tests' `sh -c` run under it. busybox's sh would run applets such as sleep
# in-process or forked without exec, unlike a Debian host.
SH=$(readlink -f /bin/sh)
case $SH in
    */dash) FILES+=(/usr/bin/sh) ;;  # copied dereferenced: the VM's /bin/sh is then dash
    *) echo "vm tier: /bin/sh is $SH here, not dash: the VM's sh stays busybox's" >&2 ;;
esac

# Debian's python3 with pytest, pytest-xdist (execnet) and prometheus_client:
# host tests run a small pytest project under corral with
# `/usr/bin/python3 -m pytest [-n 2]`.  tests/vm/python-files.py lists what that
# needs (the interpreter, the standard library less its unused big parts, the
# extension modules, those distributions and their requirements); each item is
# a --file, so run-vm.sh ldd's the interpreter and every extension module.
PY=/usr/bin/python3
PY_DEBS="python3-pytest python3-pytest-xdist python3-prometheus-client python3-jsonschema"
[ -x "$PY" ] || fail "$PY (Debian's python3) is missing: \`make deps\` installs $PY_DEBS"
py_files=$("$PY" -I "$HERE/python-files.py") ||
    fail "$PY cannot list its files for the VM (the reason is above): \`make deps\` installs $PY_DEBS"
mapfile -t py_list <<< "$py_files"
FILES+=("${py_list[@]}")

# ---- run ---------------------------------------------------------------------
run_vm=(--timeout "$TIMEOUT" --memory 2048 --cpus 2 "${CGROUP_ARGS[@]}")
for f in "${FILES[@]}"; do run_vm+=(--file "$f"); done
echo "vm tier: host tests of $BUILD in a cgroup v2 VM (test args: ${*:-none}; timeout ${TIMEOUT}s)"
rc=0
"$HERE/run-vm.sh" "${run_vm[@]}" -- "$HERE/host-tests-driver.sh" --limit "$TEST_LIMIT" --report-schema "$SRC" \
    "$TESTS_BIN" "$@" || rc=$?
wall=$(( $(date +%s) - START ))
case $rc in
    0) echo "vm tier: PASSED in ${wall}s" ;;
    1) echo "vm tier: FAILED in ${wall}s: test cases failed (the FAIL lines above) or the VM could not run (run-vm's reason above)" ;;
    2) echo "vm tier: FAILED in ${wall}s: no test case to run (a test spec that matches none?)" ;;
    *) echo "vm tier: FAILED in ${wall}s: the VM command exited with status $rc" ;;
esac
# 77 would read as "skipped" to ctest: only CORRAL_SKIP_VM_TESTS=1 may skip.
[ "$rc" -eq 0 ] || exit 1
