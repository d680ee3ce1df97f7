#!/usr/bin/env bash
# failure-digest.sh - after a ctest run that failed, a few lines for each failed
# entry: its Catch2 failures (test case, file:line, the check and its expansion),
# the vm driver's FAIL lines, or else the last lines it printed. `make test` prints
# it last, so that a CI log kept only in part (its head and tail) still says
# which test failed, where and what (and each entry's last 3 lines: Catch2's
# totals, or where a VM that ran out of time was); the whole output stays above and in
# BUILD/Testing/Temporary/LastTest.log.
#
# usage: tests/failure-digest.sh BUILD_DIR
# exit status: 0 (a digest, or a line saying why there is none), 2 usage error.
set -euo pipefail

[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
log=$1/Testing/Temporary/LastTest.log
failed=$1/Testing/Temporary/LastTestsFailed.log
if [ ! -s "$failed" ] || [ ! -s "$log" ]; then
    echo "failure digest: no failed ctest entry recorded in $1/Testing/Temporary"
    exit 0
fi

echo "==============================================================================="
echo "failure digest ($(wc -l < "$failed") ctest entries; each one's whole output is above and in $log):"
# LastTestsFailed.log: "N:NAME" a line. LastTest.log: "I/N Test: NAME", then the
# output between "Output:" + a dashes line and "<end of output>".
awk -v failed_file="$failed" '
    BEGIN {
        while ((getline l < failed_file) > 0) { sub(/^[0-9]+:/, "", l); want[l] = 1 }
        dashes = "^-------------------------------------------------------------------------------$"
    }
    function flush() {
        if (name == "" || !(name in want)) return
        printf "- %s\n%s", name, buf
        if (more > 0) printf "    ... %d more failures (see above)\n", more
        printf "    its last lines:\n"
        for (k = (n > 3 ? n - 3 : 0); k < n; k++) printf "      %s\n", tail[k % 5]
    }
    /^[0-9]+\/[0-9]+ Test: / { flush(); name = $0; sub(/^[0-9]+\/[0-9]+ Test: /, "", name)
                               inout = 0; shown = 0; more = 0; n = 0; hdr = 0; tc = ""; buf = ""; next }
    /^Output:$/ { getline; inout = 1; next }
    /^<end of output>$/ { inout = 0; next }
    !inout { next }
    {
        line = $0; sub(/\r$/, "", line)
        plain = line; sub(/^ *\| /, "", plain)   # the vm driver quotes a case output as "    | "
        if (line !~ /^[ |]*$/) { tail[n % 5] = line; n++ }
        if (plain ~ dashes) { if (hdr == 1) { hdr = 2 } else { hdr = 1; tc = "" } ; next }
        if (hdr == 1) { tc = (tc == "" ? plain : tc " " plain); sub(/^ +/, "", tc); next }
        hdr = 0
        if (line ~ /^FAIL +[0-9.]+s  / || line ~ /^SKIP .*not run/ || line ~ /^run-vm: .*(timed out|timeout|killed)/) {
            if (shown < 12) { buf = buf sprintf("    %s\n", line); shown++ } else more++
            next
        }
        if (plain ~ /(FAILED:|unexpected exception|fatal error condition)/) {
            at = plain; sub(/^.*\//, "", at)
            getline e; sub(/\r$/, "", e); sub(/^ *\| /, "", e); sub(/^ +/, "", e)
            getline w; sub(/\r$/, "", w); sub(/^ *\| /, "", w)
            if (w ~ /^with expansion:/) { getline x; sub(/\r$/, "", x); sub(/^ *\| /, "", x); sub(/^ +/, "", x); e = e " -> " x }
            if (shown < 12) { buf = buf sprintf("    %s %s  [%s]\n", at, substr(e, 1, 200), substr(tc, 1, 100)); shown++ } else more++
        }
    }
    END { flush() }
' "$log"
