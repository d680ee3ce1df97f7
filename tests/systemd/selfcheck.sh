#!/usr/bin/env bash
# selfcheck.sh - what the systemd container must provide for corral's
# systemd-scope backend; run it inside:
#
#   tests/systemd/systemd-container.sh run tests/systemd/selfcheck.sh [ALLOC]
#
# ALLOC is the allocator (default build/progs/alloc of this repository:
# `alloc 512` allocates 512 MiB in 8 MiB steps).  Prints one line per check,
# "ok" or "FAIL: why"; exits 1 if any check failed.
set -uo pipefail

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
ALLOC=${1:-$REPO/build/progs/alloc}
failed=0

ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failed=1; }
# verdict STATUS TEXT: ok when STATUS is 0
verdict() { if [ "$1" = 0 ]; then ok "$2"; else fail "$2"; fi; }
# check NAME CMD...: ok when CMD succeeds
check() { local name=$1; shift; if out=$("$@" 2>&1); then ok "$name"; else fail "$name: $out"; fi; }

memcg() { awk -F: '$2 == "memory" { print $3 }' "/proc/$1/cgroup"; }

check "systemd is PID 1 in a container ($(systemd-detect-virt -c))" \
    test "$(cat /proc/1/comm)" = systemd
state=$(systemctl is-system-running)
case $state in running|degraded) ok "is-system-running: $state" ;; *) fail "is-system-running: $state" ;; esac
cg=$(systemctl show -p ControlGroup --value init.scope)
[ "$cg" = /init.scope ]; verdict $? "init.scope ControlGroup=$cg"
check "cgroup namespace: /proc/self/cgroup memory is /" test "$(memcg self)" = /
check "/sys/fs/cgroup/memory is writable (mkdir, rmdir)" \
    sh -c 'mkdir /sys/fs/cgroup/memory/selfcheck && rmdir /sys/fs/cgroup/memory/selfcheck'
check "system bus: busctl get-property Version" \
    busctl get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager Version
check "systemctl over /run/systemd/private" test -S /run/systemd/private

# systemd-run --scope: MemoryMax= lands in memory.limit_in_bytes (v1) or memory.max (v2).
# shellcheck disable=SC2016 # expanded by the inner sh
limit=$(systemd-run --quiet --scope -p MemoryMax=64M --unit=selfcheck-limit.scope \
    sh -c 'd=/sys/fs/cgroup/memory$(awk -F: '\''$2 == "memory" { print $3 }'\'' /proc/self/cgroup)
           cat "$d/memory.limit_in_bytes" 2>/dev/null || cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max"' 2>&1)
[ "$limit" = 67108864 ]; verdict $? "systemd-run --scope -p MemoryMax=64M: limit '$limit'"

# StartTransientUnit over the bus with PIDs and MemoryMax.
sleep 60 &
sp=$!
if out=$(busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
        StartTransientUnit 'ssa(sv)a(sa(sv))' selfcheck-bus.scope fail 2 PIDs au 1 "$sp" MemoryMax t 33554432 0 2>&1); then
    for _ in $(seq 50); do [ "$(memcg "$sp")" = /system.slice/selfcheck-bus.scope ] && break; sleep 0.02; done
    got=$(memcg "$sp")
    [ "$got" = /system.slice/selfcheck-bus.scope ]
    verdict $? "busctl StartTransientUnit (PIDs, MemoryMax): $out, the pid is in '$got'"
else
    fail "busctl StartTransientUnit: $out"
fi
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null

# A real OOM kill under a scope's MemoryMax.
# The unit name is unique: journald imports the whole kernel ring buffer at
# boot, stamped with the boot's time, so older records of other containers
# are there too and --since does not tell them apart.
if [ -x "$ALLOC" ]; then
    since=$(date '+%Y-%m-%d %H:%M:%S')
    unit=selfcheck-oom-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n').scope
    systemd-run --quiet --scope -p MemoryMax=32M --unit="$unit" "$ALLOC" 512 >/dev/null 2>&1
    rc=$?
    [ $rc = 137 ]; verdict $? "alloc 512 under MemoryMax=32M: status $rc (137 = SIGKILL)"
    line=
    for _ in $(seq 50); do
        line=$(journalctl -k --since "$since" --no-pager -o cat | grep -m1 "oom-kill:.*/$unit," || true)
        [ -n "$line" ] && break
        sleep 0.02
    done
    [ -n "$line" ]; verdict $? "journalctl -k: kernel OOM record naming the scope: '$line'"
    if journalctl -u "$unit" --since "$since" --no-pager -o cat | grep -q 'killed by the OOM killer'; then
        ok "unit journal: 'A process of this unit has been killed by the OOM killer'"
    else
        echo "note systemd logged no 'killed by the OOM killer' for the scope (expected on cgroup v1: systemd learns of OOM kills from memory.events, a v2 file)"
    fi
else
    fail "no allocator at $ALLOC (build the repository first)"
fi

exit $failed
