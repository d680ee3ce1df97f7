#!/bin/sh
# host-tests-driver.sh - runs INSIDE the test VM (POSIX sh: dash, or busybox's),
# started by host-tests-in-vm.sh through run-vm.sh: every test case of the host
# tier (a Catch2 v2 binary) in a process of its own, a RUN line before each and
# one PASS/FAIL line after it with its wall time, a failing case's whole output below its line, then the
# totals in Catch2's words.
#
# usage: host-tests-driver.sh [--limit SECONDS] [--report-schema SOURCE_DIR] BINARY [CATCH2 ARGS...]
#
#   ARGS that start with '-' are Catch2 options, given to every run (an option
#   with a value must be written --opt=value); the others are test specs
#   (names, wildcards, [tags]; a comma is "or", several arguments are "and")
#   that choose the test cases; none: all of them.
#   --limit: wall-time limit of one test case (default 120), then SIGKILL.
#   --report-schema: every report.json the cases read is validated against
#   SOURCE_DIR/docs/report-schema.json once, at the end, by one
#   SOURCE_DIR/tests/validate-report.py (Python's start-up per case costs 2-3 s
#   under TCG): the cases copy them (CORRAL_REPORT_SCHEMA_DEFER) and a case
#   whose report does not match fails here, its errors below its name.
#
# exit status: 0 every test case passed, 1 one or more failed, 2 nothing to run.
set -u

LIMIT=120
SCHEMA_SRC=
while :; do
    case ${1:-} in
        --limit) LIMIT=$2; shift 2 ;;
        --report-schema) SCHEMA_SRC=$2; shift 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "host-tests-driver: usage: $0 [--limit S] BINARY [CATCH2 ARGS...]" >&2; exit 2; }
BIN=$1; shift

OPTS_FILE=/tmp/vm-driver.opts    # one argument a line: they may hold spaces
SPECS_FILE=/tmp/vm-driver.specs
: > "$OPTS_FILE"; : > "$SPECS_FILE"
for a in "$@"; do
    case $a in -*) printf '%s\n' "$a" >> "$OPTS_FILE" ;; *) printf '%s\n' "$a" >> "$SPECS_FILE" ;; esac
done

# run_with_args FILE CMD...: runs CMD... followed by the arguments listed in
# FILE, one a line, so that each stays one word whatever it holds.
run_with_args() {
    _file=$1; shift
    while IFS= read -r _a; do set -- "$@" "$_a"; done < "$_file"
    "$@"
}

# plural N WORD: "1 test case", "2 test cases"
plural() { if [ "$1" -eq 1 ]; then echo "$1 $2"; else echo "$1 ${2}s"; fi; }
uptime_s() { read -r _up _idle < /proc/uptime; echo "$_up"; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

# Test names, in declaration order. The listing's own exit status is the number
# of test cases (Catch2 v2), so only its output counts.
cat "$OPTS_FILE" "$SPECS_FILE" > /tmp/vm-driver.listargs
run_with_args /tmp/vm-driver.listargs "$BIN" --list-test-names-only > /tmp/vm-driver.names 2> /tmp/vm-driver.list-err
# Drop empty lines; a name that starts with '#' is printed in quotes.
sed -e '/^[[:space:]]*$/d' -e 's/^"\(#.*\)"$/\1/' /tmp/vm-driver.names > /tmp/vm-driver.cases
total=$(wc -l < /tmp/vm-driver.cases)
if [ "$total" -eq 0 ]; then
    echo "host-tests-driver: no test case to run: '$BIN --list-test-names-only $*' listed none" >&2
    sed 's/^/    /' /tmp/vm-driver.list-err >&2
    exit 2
fi
echo "host-tests-driver: $(plural "$total" "test case") of $BIN, one process each, at most ${LIMIT}s each"

# The VM is killed at a hard limit; CORRAL_VM_DEADLINE (from run-vm.sh) is the
# uptime by which we must have reported: each test case gets at most what is
# left of it, and once too little is left the rest are reported as not run.
DEADLINE=${CORRAL_VM_DEADLINE:-}
case $DEADLINE in ''|*[!0-9]*) DEADLINE= ;; esac

passed=0 failed=0 not_run=0 a_passed=0 a_failed=0
: > /tmp/vm-driver.failed
: > /tmp/vm-driver.failed-out
t_all=$(uptime_s)
i=0
while IFS= read -r name; do
    i=$((i + 1))
    limit=$LIMIT budget_capped=0
    if [ -n "$DEADLINE" ]; then
        left=$(awk -v d="$DEADLINE" -v u="$(uptime_s)" 'BEGIN { printf "%d", d - u - 3 }')
        if [ "$left" -lt 5 ]; then
            not_run=$((not_run + 1))
            printf 'SKIP %7s  %s (not run: the time of the VM tier ran out)\n' "" "$name"
            printf '%s (not run)\n' "$name" >> /tmp/vm-driver.failed
            continue
        fi
        [ "$left" -lt "$limit" ] && { limit=$left; budget_capped=1; }
    fi
    # The exact name as a Catch2 test spec: '\' escapes every special character.
    spec=$(printf '%s' "$name" | sed 's/[][\\,"*~]/\\&/g')
    out=/tmp/vm-driver.case-$i.out
    # A RUN line first: if the VM is killed at its hard limit, the console's last line names the case.
    printf 'RUN  %7s  %s\n' "" "$name"
    t0=$(uptime_s)
    CORRAL_REPORT_SCHEMA_DEFER=
    [ -z "$SCHEMA_SRC" ] || CORRAL_REPORT_SCHEMA_DEFER=/tmp/vm-driver.reports/case-$i
    export CORRAL_REPORT_SCHEMA_DEFER
    run_with_args "$OPTS_FILE" timeout -s KILL "$limit" "$BIN" "$spec" > "$out" 2>&1 < /dev/null
    rc=$?
    t=$(minus "$(uptime_s)" "$t0")
    # Catch2's closing lines: "All tests passed (N assertions in 1 test case)" or
    # "assertions: N | P passed | F failed" (columns that are 0 are left out).
    counts=$(awk '
        /^All tests passed \(/ { p = substr($4, 2); f = 0; found = 1 }
        /^assertions:/ { found = 1
            for (k = 2; k <= NF; k++) { if ($(k+1) == "passed") p = $k; if ($(k+1) == "failed") f = $k } }
        END { printf "%d %d %d", p, f, found }' "$out")
    # shellcheck disable=SC2086 # split into its three numbers on purpose
    set -- $counts
    a_passed=$((a_passed + $1)); a_failed=$((a_failed + $2))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %6ss  %s\n' "$t" "$name"
        continue
    fi
    failed=$((failed + 1))
    why="exit status $rc"
    if [ "$rc" -eq 137 ]; then
        if awk -v t="$t" -v l="$limit" 'BEGIN { exit !(t >= l - 1) }'; then
            why="SIGKILLed after ${limit}s: the per-test limit"
            [ "$budget_capped" -eq 0 ] || why="SIGKILLed after ${limit}s: the time of the VM tier ran out"
        else
            why="killed by SIGKILL (the kernel's OOM killer? see the kernel messages below)"
        fi
    elif [ "$rc" -gt 128 ]; then
        why="killed by signal $((rc - 128))"
    fi
    [ "$3" -eq 1 ] || { why="$why, no Catch2 summary"; a_failed=$((a_failed + 1)); }
    printf 'FAIL %6ss  %s (%s)\n' "$t" "$name" "$why"
    sed 's/^/    | /' "$out"
    printf '%s\n' "$name" >> /tmp/vm-driver.failed
    printf '%s\t%s\t%s\n' "$out" "$why" "$name" >> /tmp/vm-driver.failed-out
done < /tmp/vm-driver.cases
# The reports the cases read, against the schema, in one validator. A case whose report does not
# match turns from PASS to failed here.
if [ -n "$SCHEMA_SRC" ] && [ -d /tmp/vm-driver.reports ]; then
    t0=$(uptime_s)
    n_reports=$(find /tmp/vm-driver.reports -name '*.json' | wc -l)
    /usr/bin/python3 -I "$SCHEMA_SRC/tests/validate-report.py" "$SCHEMA_SRC/docs/report-schema.json" \
        $(find /tmp/vm-driver.reports -name '*.json' | sort) > /tmp/vm-driver.schema.out 2>&1
    src=$?
    echo "host-tests-driver: $n_reports reports validated against docs/report-schema.json in $(minus "$(uptime_s)" "$t0")s (exit status $src)"
    if [ "$src" -ne 0 ]; then
        j=0
        while IFS= read -r name; do
            j=$((j + 1))
            grep -F "/tmp/vm-driver.reports/case-$j/" /tmp/vm-driver.schema.out > /tmp/vm-driver.case-$j.schema || continue
            printf 'FAIL %7s  %s (its report does not match docs/report-schema.json)\n' "" "$name"
            sed 's/^/    | /' /tmp/vm-driver.case-$j.schema
            grep -qxF "$name" /tmp/vm-driver.failed && continue  # failed already: counted once
            failed=$((failed + 1)); passed=$((passed - 1))
            printf '%s\n' "$name" >> /tmp/vm-driver.failed
            printf '%s\t%s\t%s\n' /tmp/vm-driver.case-$j.schema "report does not match the schema" "$name" >> /tmp/vm-driver.failed-out
        done < /tmp/vm-driver.cases
        if ! grep -q '/tmp/vm-driver.reports/case-' /tmp/vm-driver.schema.out; then
            echo "FAIL: the report validator could not run:"; sed 's/^/    | /' /tmp/vm-driver.schema.out
            failed=$((failed + 1))
        fi
    fi
fi
t_total=$(minus "$(uptime_s)" "$t_all")

echo "==============================================================================="
if [ "$failed" -eq 0 ] && [ "$not_run" -eq 0 ] && [ "$a_passed" -gt 0 ]; then
    echo "All tests passed ($(plural "$a_passed" assertion) in $(plural "$total" "test case"))"
else
    echo "test cases: $total | $passed passed | $failed failed$([ "$not_run" -eq 0 ] || echo " | $not_run not run")"
    echo "assertions: $((a_passed + a_failed)) | $a_passed passed | $a_failed failed"
fi
echo "host-tests-driver: $(plural "$total" "test case") in ${t_total}s"
if [ "$failed" -gt 0 ] || [ "$not_run" -gt 0 ]; then
    # The kernel's messages first and the failures last: a CI log cut to its
    # head and tail still shows which case failed and where.
    echo "kernel messages at level err or worse (last 30 lines of dmesg):"
    dmesg -r | grep '^<[0-3]>' | tail -n 30 | sed 's/^/    /'
    echo "failed test cases, each with the start of its first failure:"
    while IFS="$(printf '\t')" read -r out why name; do
        printf '  - %s (%s)\n' "$name" "$why"
        first=$(grep -n -m1 -E 'FAILED:|unexpected exception|fatal error condition' "$out" | cut -d: -f1)
        if [ -n "$first" ]; then
            from=$((first > 2 ? first - 2 : 1))
            sed -n "${from},$((from + 39))p" "$out"
        else
            tail -n 20 "$out"
        fi | sed 's/^/      | /'
    done < /tmp/vm-driver.failed-out
    # Last, a line or two a case: a CI log that keeps only its last lines
    # still names each failed case, where and what.
    echo "failed, in short:"
    while IFS="$(printf '\t')" read -r out why name; do
        printf '  %s (%s)\n' "$name" "$why"
        awk '/FAILED:|unexpected exception|fatal error condition/ && !done {
                 at = $0; sub(/^.*\//, "", at); getline expr; gsub(/^ +/, "", expr)
                 getline w; if (w ~ /^with expansion:/) { getline x; gsub(/^ +/, "", x); expr = expr " -> " x }
                 print "    " at " " expr; done = 1 }' "$out"
    done < /tmp/vm-driver.failed-out
    grep -F '(not run)' /tmp/vm-driver.failed | sed 's/^/  /' || true
    exit 1
fi
exit 0
