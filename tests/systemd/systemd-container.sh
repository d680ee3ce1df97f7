#!/usr/bin/env bash
# systemd-container.sh - boot the host's own systemd as PID 1 of a throw-away
# container (private pid/mount/cgroup/net/uts/ipc namespaces, an overlay root
# whose lower layer is the host's "/") so that tests can talk to a real systemd
# (D-Bus, StartTransientUnit, scopes, journald) on a machine whose PID 1 is not
# systemd.  Nothing is written to the host's file system except the state dir:
# every write inside lands in a tmpfs upper layer that vanishes with the
# container.
#
# usage: tests/systemd/systemd-container.sh start
#            boot; print the container init's host PID on stdout (boot time
#            and diagnostics on stderr); exit 0 once `systemctl
#            is-system-running` says running or degraded, else print why,
#            tear everything down and exit 1
#        tests/systemd/systemd-container.sh exec PID CMD [ARGS...]
#            run CMD inside (all namespaces of PID, the container's root
#            cgroup, a clean environment, the caller's cwd when it exists
#            inside, else /); exit with CMD's status
#        tests/systemd/systemd-container.sh stop PID
#            power off (SIGRTMIN+4), SIGKILL what is left after
#            CORRAL_SYSTEMD_STOP_TIMEOUT, remove the container's cgroups and
#            state dir.  Safe to call twice.
#        tests/systemd/systemd-container.sh run CMD [ARGS...]
#            start, exec CMD, stop (always); exit with CMD's status
#        tests/systemd/systemd-container.sh list
#            containers in the state root: PID, state dir, "(dead)" if gone
#        tests/systemd/systemd-container.sh cleanup
#            stop (clean up after) every container whose init is gone, e.g.
#            after `run` was SIGKILLed
#
# DANGER: never boot systemd (or run systemd-tmpfiles) against the real root
# file system: its boot-time clean-up empties /tmp, it loads modules, sets
# sysctls and the clock.  The init step below refuses to exec systemd unless
# "/" is the overlay after pivot_root; /proc/sys, /proc/sysrq-trigger and /sys
# are read-only, CAP_SYS_MODULE and CAP_SYS_TIME are dropped from the bounding
# set and the units that touch the host are masked.
#
# environment:
#   CORRAL_SYSTEMD_STATE         state root (default /run/corral-systemd); one
#                                dir per container: pid, cgroups, console.log
#   CORRAL_SYSTEMD_BOOT_TIMEOUT  seconds to wait for running/degraded (60: about
#                                1 s here, 15-25 s in the TCG VM of the v2 tier)
#   CORRAL_SYSTEMD_STOP_TIMEOUT  seconds to wait for the power-off (5)
#   CORRAL_SYSTEMD_BINDS         host dirs bind-mounted read-write at the same
#                                path (default: the repository root)
#   CORRAL_SYSTEMD_PASSENV       names of variables `exec` passes through (besides
#                                TERM, LANG, LC_ALL and ASAN/UBSAN/LSAN_OPTIONS)
#   CORRAL_SYSTEMD_UPPER_SIZE    size of the tmpfs upper layer (default 1g)
#   CORRAL_SYSTEMD_KEEP_FAILED   set: a failed boot is left running for a look
#                                (start still exits 1; call stop PID after)
#
# Requires root, cgroup v1 or hybrid hierarchies mounted under /sys/fs/cgroup
# or a pure v2 /sys/fs/cgroup (tested in the VM: tests/vm/systemd-tests-in-vm.sh),
# systemd and dbus installed.  The container's cgroup is
# corral_systemd.<id> below this shell's cgroup in every hierarchy (not
# "corral-*": the host tests sweep those).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
STATE_ROOT=${CORRAL_SYSTEMD_STATE:-/run/corral-systemd}
BOOT_TIMEOUT=${CORRAL_SYSTEMD_BOOT_TIMEOUT:-60}
STOP_TIMEOUT=${CORRAL_SYSTEMD_STOP_TIMEOUT:-5}
BINDS=${CORRAL_SYSTEMD_BINDS-$REPO}
UPPER_SIZE=${CORRAL_SYSTEMD_UPPER_SIZE:-1g}
DROP_CAPS=-sys_module,-sys_time
DETACH=1            # start: unshare in its own session (run clears it)
INSIDE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Units that would touch the host (kernel modules, sysctls, clock, pstore,
# binfmt, kernel file systems), wait for hardware/ttys that are not there, or
# only cost boot time.  Masked by /dev/null symlinks in the overlay's /etc.
MASK=(
    systemd-modules-load.service kmod-static-nodes.service systemd-sysctl.service
    systemd-timesyncd.service systemd-time-wait-sync.service systemd-pstore.service
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
    sys-fs-fuse-connections.mount dev-hugepages.mount
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service
    systemd-remount-fs.service systemd-firstboot.service systemd-repart.service
    systemd-random-seed.service systemd-machine-id-commit.service
    systemd-pcrphase.service systemd-pcrphase-sysinit.service
    systemd-networkd-wait-online.service networking.service ifupdown-pre.service
    getty.target getty@.service serial-getty@.service console-getty.service
    container-getty@.service getty-static.service
    systemd-ask-password-console.path systemd-ask-password-wall.path
    systemd-journald-audit.socket
    systemd-tmpfiles-clean.timer apt-daily.timer apt-daily-upgrade.timer
    dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
    man-db.timer cron.service anacron.service anacron.timer ssh.service
    postgresql.service
)

die() { echo "systemd-container: $*" >&2 || true; exit 1; }
log() { echo "systemd-container: $*" >&2 || true; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- cgroup hierarchies --------------------------------------------------------
# One line per hierarchy this process belongs to and that is mounted:
#   <host dir of our cgroup> <fstype> <mount options> <dir name inside>
# e.g. "/sys/fs/cgroup/memory/process_api/0c0a cgroup memory memory".
hierarchies() {
    awk '
        FNR == NR {                     # /proc/self/cgroup: id:controllers:path
            i = index($0, ":"); rest = substr($0, i + 1); j = index(rest, ":")
            ctl[++n] = substr(rest, 1, j - 1); path[n] = substr(rest, j + 1)
            next
        }
        {                               # /proc/self/mountinfo
            for (d = 7; $d != "-"; d++) ;
            type = $(d + 1); if (type != "cgroup" && type != "cgroup2") next
            opts = ""; m = split($(d + 3), o, ",")
            for (k = 1; k <= m; k++) {
                if (type == "cgroup2" || o[k] == "rw" || o[k] == "ro" || o[k] == "xattr" ||
                    o[k] == "noprefix" || o[k] == "clone_children" || o[k] ~ /^release_agent=/)
                    continue
                opts = opts (opts == "" ? "" : ",") o[k]
            }
            for (c = 1; c <= n; c++) {
                if (done[c]) continue
                if (type == "cgroup2" ? ctl[c] != "" : ("," opts ",") != ("," ctl[c] ","))
                    continue
                root = $4; p = path[c]
                if (root != "/") {
                    if (index(p "/", root "/") != 1) continue
                    p = substr(p, length(root) + 1)
                }
                name = $5; sub(/.*\//, "", name)
                print $5 (p == "/" ? "" : p), type, (opts == "" ? "-" : opts), name
                done[c] = 1
            }
        }' /proc/self/cgroup /proc/self/mountinfo
}

# Creates corral_systemd.<id> below our cgroup in every hierarchy; writes the
# list (host dir, fstype, options, name inside) to $dir/cgroups, each line as
# soon as its cgroup exists (remove_cgroups undoes a partial run).
make_cgroups() {
    local dir=$1 id=$2 base type opts name cg f
    : >"$dir/cgroups"
    while read -r base type opts name; do
        cg=$base/corral_systemd.$id
        mkdir "$cg" || { log "mkdir $cg failed (is $base writable?)"; return 1; }
        echo "$cg $type $opts $name" >>"$dir/cgroups"
        for f in cpuset.cpus cpuset.mems; do
            if [ -e "$cg/$f" ] && [ -z "$(cat "$cg/$f")" ]; then
                cat "$base/$f" >"$cg/$f" || { log "cannot copy $base/$f to $cg"; return 1; }
            fi
        done
    done < <(hierarchies)
    [ -s "$dir/cgroups" ] || { log "no cgroup hierarchy found in /proc/self/mountinfo"; return 1; }
}

# Moves process $2 into the container's root cgroup of every hierarchy.  In a
# cgroup2 hierarchy where the container's systemd has enabled controllers (a
# pure v2 host) v2 allows no process in a cgroup that hands controllers to its
# children (the real root excepted): there $2 goes to container-exec/wait-$2,
# and the command, once inside, moves itself to a sibling leaf run-<pid> (see
# cmd_exec), away from nsenter's waiting parent. container-exec passes on the
# controllers it has, so that a command that needs them (corral's cgroup
# backend) can enable them in its own leaf.
enter_cgroups() {
    local dir=$1 pid=$2 cg type exec c sc lock _
    V2_EXEC=
    while read -r cg type _; do
        # Only builtins on this path (no command substitution): start's subshell runs it before it
        # execs unshare, and a forked helper would pass for the container's init in its children.
        sc=
        [ "$type" != cgroup2 ] || { read -r sc <"$cg/cgroup.subtree_control" || true; } 2>/dev/null
        if [ -n "$sc" ]; then
            exec=$cg/container-exec
            # Two `exec`s at once (a test polls systemctl while corral runs) must not both create
            # container-exec, nor remove a leaf the other has made and not yet entered: everything
            # below is done holding a lock on the container-exec directory (flock works on
            # cgroupfs), as is the command's own move into its run-* leaf (cmd_exec).
            mkdir "$exec" 2>/dev/null || [ -d "$exec" ] || die "cannot create $exec"
            exec {lock}<"$exec" || die "cannot open $exec"
            flock "$lock" || die "cannot lock $exec"
            for c in $(cat "$exec/cgroup.controllers"); do     # idempotent
                echo "+$c" >"$exec/cgroup.subtree_control" || die "cannot enable $c in $exec"
            done
            # Leaves of earlier commands that have ended (rmdir fails on a populated cgroup).
            find "$exec" -mindepth 1 -maxdepth 1 -type d \( -name 'wait-*' -o -name 'run-*' \) \
                -exec rmdir {} + 2>/dev/null || true
            cg=$exec/wait-$pid
            mkdir "$cg" || die "cannot create $cg"
            echo "$pid" >"$cg/cgroup.procs" || die "cannot move $pid into $cg"
            exec {lock}<&-
            V2_EXEC=/sys/fs/cgroup/container-exec   # as the container sees it
            continue
        fi
        echo "$pid" >"$cg/cgroup.procs" || die "cannot move $pid into $cg"
    done <"$dir/cgroups"
}

# Removes the container's cgroup trees, deepest first; SIGKILLs whatever is
# still inside (the nsenter parents of `exec`, stragglers).  Returns 1 when a
# cgroup would not go away.
remove_cgroups() {
    local dir=$1 cg _ d p left
    [ -f "$dir/cgroups" ] || return 0
    for _ in $(seq 50); do
        left=0
        while read -r cg _; do
            [ -d "$cg" ] || continue
            while read -r d; do
                while read -r p; do
                    [ -n "$p" ] && [ "$p" != 0 ] && { kill -KILL "$p" 2>/dev/null || true; }
                done <"$d/cgroup.procs"
                rmdir "$d" 2>/dev/null || left=1
            done < <(find "$cg" -depth -type d)
        done <"$dir/cgroups"
        [ $left = 0 ] && return 0
        sleep 0.1
    done
    while read -r cg _; do [ -d "$cg" ] && log "cgroup left behind: $cg"; done <"$dir/cgroups"
    return 1
}

# ---- init: runs as PID 1 of the new namespaces, before systemd -----------------
inside_init() {
    local dir=$1 root=$1/root rw=$1/rw cg type opts name c b p unit
    mount --make-rprivate /
    mount -t tmpfs -o mode=755,size="$UPPER_SIZE" corral-systemd-rw "$rw"
    mkdir "$rw/upper" "$rw/work"
    mount -t overlay -o "lowerdir=/,upperdir=$rw/upper,workdir=$rw/work" corral-systemd-root "$root"
    [ "$(findmnt -n -o FSTYPE --mountpoint "$root")" = overlay ] || die "overlay not mounted at $root"

    mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
    for p in sys sysrq-trigger; do
        [ -e "$root/proc/$p" ] || continue
        mount --bind "$root/proc/$p" "$root/proc/$p"
        mount -o remount,bind,ro "$root/proc/$p"
    done
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
    if [ "$(wc -l <"$dir/cgroups")" = 1 ] && [ "$(cut -d' ' -f2,4 "$dir/cgroups")" = "cgroup2 cgroup" ]; then
        # pure cgroup v2 host (/sys/fs/cgroup itself is the cgroup2 mount)
        mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
    else
        mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup "$root/sys/fs/cgroup"
    fi
    while read -r cg type opts name; do
        [ "$name" = cgroup ] && continue
        mkdir "$root/sys/fs/cgroup/$name"
        if [ "$type" = cgroup2 ]; then
            mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup/$name"
        else
            mount -t cgroup -o nosuid,nodev,noexec,"$opts" cgroup "$root/sys/fs/cgroup/$name"
            case $name in *,*)
                for c in ${name//,/ }; do ln -s "$name" "$root/sys/fs/cgroup/$c"; done ;;
            esac
        fi
    done <"$dir/cgroups"

    mount -t tmpfs -o mode=755,nosuid,size=64k corral-systemd-dev "$root/dev"
    mknod -m 666 "$root/dev/null" c 1 3
    mknod -m 666 "$root/dev/zero" c 1 5
    mknod -m 666 "$root/dev/full" c 1 7
    mknod -m 666 "$root/dev/random" c 1 8
    mknod -m 666 "$root/dev/urandom" c 1 9
    mknod -m 666 "$root/dev/tty" c 5 0
    mknod -m 600 "$root/dev/kmsg" c 1 11
    mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$root/dev/pts"
    ln -s pts/ptmx "$root/dev/ptmx"
    mount -t tmpfs -o mode=1777,nosuid,nodev corral-systemd-shm "$root/dev/shm"
    mount -t mqueue -o nosuid,nodev,noexec mqueue "$root/dev/mqueue"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    ln -s /proc/kcore "$root/dev/core"
    mount -t tmpfs -o mode=755,nosuid,nodev,size=20% corral-systemd-run "$root/run"
    mount -t tmpfs -o mode=1777,nosuid,nodev corral-systemd-tmp "$root/tmp"
    # After the tmpfs mounts: a checkout under /tmp or /run needs its mount point made in the fresh
    # tmpfs. systemd's boot-time clean-up of /tmp does not descend into mount points (rm_rf stops at
    # them), and `start` checks afterwards that every bound directory kept its files.
    for b in $BINDS; do
        [ -d "$b" ] || die "CORRAL_SYSTEMD_BINDS: $b is not a directory"
        mkdir -p "$root$b"
        mount --bind "$b" "$root$b"
    done

    # /etc: a fresh machine-id and hostname, no fstab mounts, masked units.
    tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
    echo corral-systemd >"$root/etc/hostname"
    echo "# systemd-container.sh: no mounts" >"$root/etc/fstab"
    # systemd-sysusers (which creates e.g. dbus's "messagebus") refuses to run
    # when /etc/shadow or /etc/gshadow name users or groups that /etc/passwd or
    # /etc/group lack, as on hosts whose passwd was trimmed: keep only the
    # entries that match.
    awk -F: 'FNR == NR { u[$1] = 1; next } u[$1]' "$root/etc/passwd" "$root/etc/shadow" >"$rw/shadow"
    awk -F: 'FNR == NR { g[$1] = 1; next } g[$1]' "$root/etc/group" "$root/etc/gshadow" >"$rw/gshadow"
    cat "$rw/shadow" >"$root/etc/shadow"
    cat "$rw/gshadow" >"$root/etc/gshadow"
    rm "$rw/shadow" "$rw/gshadow"
    mkdir -p "$root/etc/systemd/system"
    for unit in "${MASK[@]}"; do
        rm -rf "$root/etc/systemd/system/$unit"
        ln -s /dev/null "$root/etc/systemd/system/$unit"
    done
    ln -sfn /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
    # journald's own messages go to the host's kernel log otherwise.
    mkdir -p "$root/etc/systemd/system/systemd-journald.service.d"
    printf '[Service]\nEnvironment=SYSTEMD_LOG_TARGET=console\n' \
        >"$root/etc/systemd/system/systemd-journald.service.d/corral.conf"

    cd "$root"
    mkdir .corral-oldroot
    pivot_root . .corral-oldroot
    cd /
    umount -l /.corral-oldroot
    rmdir /.corral-oldroot
    [ "$(findmnt -n -o FSTYPE --mountpoint /)" = overlay ] || die "/ is not the overlay after pivot_root"
    exec setpriv --bounding-set "$DROP_CAPS" \
        env -i container=corral-test PATH="$INSIDE_PATH" LANG=C.UTF-8 /lib/systemd/systemd
}

# ---- host side -----------------------------------------------------------------
state_of() {        # PID -> state dir
    local pid=$1 f
    [[ $pid =~ ^[0-9]+$ ]] || die "'$pid' is not a PID"
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] && [ "$(cat "$f")" = "$pid" ] && { dirname "$f"; return 0; }
    done
    die "no container with PID $pid in $STATE_ROOT"
}

# Prints "STATE STARTTIME" of a process; fails when there is none.  (comm may
# hold spaces, hence the split at the last ')'.)
proc_stat() {
    local s f
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -ra f <<<"${s##*) }"
    echo "${f[0]} ${f[19]}"
}

alive() {           # state dir -> is its init still the process we started?
    local pid st
    pid=$(cat "$1/pid" 2>/dev/null) || return 1
    st=$(proc_stat "$pid") || return 1
    [ "${st% *}" != Z ] && [ "${st#* }" = "$(cat "$1/starttime")" ]
}

in_ct() {           # state dir, CMD... -> run CMD inside, quietly
    local pid
    pid=$(cat "$1/pid"); shift
    nsenter -t "$pid" -a -- env -i PATH="$INSIDE_PATH" SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}

diagnose() {
    local dir=$1
    log "--- console (systemd's stdout/stderr), last 40 lines:"
    tail -n 40 "$dir/console.log" >&2 || true
    if alive "$dir"; then
        log "--- systemctl --failed:"
        in_ct "$dir" systemctl --failed --no-legend >&2 || true
        log "--- systemctl list-jobs:"
        in_ct "$dir" systemctl list-jobs --no-legend >&2 || true
        log "--- journal, last 40 lines:"
        in_ct "$dir" journalctl -b -n 40 --no-pager >&2 || true
    fi
}

cmd_start() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -x /lib/systemd/systemd ] || die "/lib/systemd/systemd not found (apt-get install systemd)"
    command -v dbus-daemon >/dev/null || command -v dbus-broker >/dev/null ||
        die "no D-Bus daemon (apt-get install dbus)"
    local t0 id dir unshare_pid pid st state deadline cg _
    t0=$(now)
    id=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    dir=$STATE_ROOT/$id
    mkdir -p "$dir/root" "$dir/rw"
    trap 'log "interrupted while booting"; stop_dir "$dir" || true; exit 130' INT
    trap 'log "terminated while booting"; stop_dir "$dir" || true; exit 143' TERM
    if ! make_cgroups "$dir" "$id"; then
        remove_cgroups "$dir" || true
        rm -rf "$dir"
        die "cannot create the container's cgroups"
    fi

    # The subshell joins the container cgroups before unshare(CLONE_NEWCGROUP),
    # so they are the root of the container's cgroup namespace.
    (
        enter_cgroups "$dir" "$BASHPID"
        exec ${DETACH:+setsid} unshare --pid --fork --kill-child --mount --cgroup --net --uts --ipc \
            --propagation private -- "$SELF" __init "$dir"
    ) </dev/null >"$dir/console.log" 2>&1 &
    unshare_pid=$!
    for _ in $(seq 200); do
        # Until the subshell has exec'd unshare, its children are helpers, not the init.
        if [ "$(cat "/proc/$unshare_pid/comm" 2>/dev/null)" != unshare ]; then
            kill -0 "$unshare_pid" 2>/dev/null || break
            sleep 0.01
            continue
        fi
        pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null || true)
        pid=${pid%% *}
        [ -n "$pid" ] && break
        kill -0 "$unshare_pid" 2>/dev/null || break
        sleep 0.01
    done
    if [ -z "$pid" ]; then
        cat "$dir/console.log" >&2 || true
        remove_cgroups "$dir" || true
        rm -rf "$dir"
        die "unshare did not start the container"
    fi
    echo "$pid" >"$dir/pid"
    echo "$unshare_pid" >"$dir/unshare.pid"
    # unshare itself goes back to our cgroups: the container's root cgroups
    # hold only the container's processes.
    while read -r cg _; do
        echo "$unshare_pid" >"$(dirname "$cg")/cgroup.procs" 2>/dev/null || true
    done <"$dir/cgroups"
    st=$(proc_stat "$pid") && echo "${st#* }" >"$dir/starttime"

    state=
    deadline=$(awk -v t="$t0" -v d="$BOOT_TIMEOUT" 'BEGIN { printf "%.3f", t + d }')
    while awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n < d) }'; do
        alive "$dir" || break
        state=$(in_ct "$dir" systemctl is-system-running 2>/dev/null || true)
        case $state in
            running|degraded) break ;;
            maintenance|stopping) break ;;
        esac
        sleep 0.05
    done
    case $state in
        running|degraded)
            for b in $BINDS; do
                # systemd's boot-time clean-up must not have reached into a bound directory.
                [ -n "$(ls -A "$b" 2>/dev/null)" ] ||
                    die "DANGER: $b is empty after the container booted (systemd's clean-up reached it?): stopping"
            done
            log "PID $pid: $state after $(elapsed "$t0" "$(now)")s (state $dir)"
            [ "$state" = running ] || in_ct "$dir" systemctl --failed --no-legend >&2 || true
            echo "$pid"
            ;;
        *)
            if alive "$dir"; then
                log "boot failed: systemctl is-system-running says '${state:-nothing}' after $(elapsed "$t0" "$(now)")s"
            else
                log "boot failed: the container's init exited (state '${state:-none}')"
            fi
            # A reader of our stderr that goes away (`start 2>&1 | head`) must
            # not stop us half-way through the teardown.
            trap '' PIPE
            diagnose "$dir" || true
            if [ -n "${CORRAL_SYSTEMD_KEEP_FAILED:-}" ]; then
                log "CORRAL_SYSTEMD_KEEP_FAILED: left running, PID $pid"
                echo "$pid"
            else
                stop_dir "$dir" || true
            fi
            exit 1
            ;;
    esac
    trap - INT TERM
}

stop_dir() {
    local dir=$1 pid unshare_pid st rc=0
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    unshare_pid=$(cat "$dir/unshare.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$dir"; then
        kill -s RTMIN+4 "$pid" 2>/dev/null || true     # systemd: poweroff.target
        for _ in $(seq $((STOP_TIMEOUT * 50))); do
            alive "$dir" || break
            sleep 0.02
        done
        if alive "$dir"; then
            log "PID $pid still running ${STOP_TIMEOUT}s after SIGRTMIN+4: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true       # ends the whole pid namespace
        fi
    fi
    # unshare exits when its child does; it is gone with the namespaces' last user.
    if [ -n "$unshare_pid" ]; then
        for _ in $(seq 100); do
            [ "$(cat "/proc/$unshare_pid/comm" 2>/dev/null)" = unshare ] || break
            st=$(proc_stat "$unshare_pid") || break
            [ "${st% *}" != Z ] || break    # a zombie is done; its parent reaps it
            sleep 0.02
        done
    fi
    remove_cgroups "$dir" || rc=1
    rmdir "$dir/root" "$dir/rw" 2>/dev/null || { log "$dir/root or rw not empty (a mount leaked?)"; rc=1; }
    if [ $rc = 0 ]; then rm -rf "$dir"; else log "kept $dir"; fi
    return $rc
}

cmd_exec() {
    [ $# -ge 2 ] || die "usage: $0 exec PID CMD [ARGS...]"
    local dir pid cwd=/ v env=()
    dir=$(state_of "$1"); pid=$1; shift
    alive "$dir" || die "container $pid is not running"
    [ -d "/proc/$pid/root$PWD" ] && cwd=$PWD
    # The sanitizer options too: the ASan+UBSan pass of `make test` runs this tier, and a corral
    # started without UBSAN_OPTIONS=halt_on_error=1 would print a finding and go on.
    for v in TERM LANG LC_ALL ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS ${CORRAL_SYSTEMD_PASSENV:-}; do
        [ -n "${!v+x}" ] && env+=("$v=${!v}")
    done
    # Join the container's root cgroups first: in the unified hierarchy systemd
    # can move a process only when its cgroup is inside the namespace.
    enter_cgroups "$dir" "$BASHPID"
    local place=()
    # shellcheck disable=SC2016 # expanded by the sh inside
    [ -z "$V2_EXEC" ] ||
        place=(sh -c 'exec 9<"$0" && flock 9 && d=$0/run-$$ && mkdir "$d" && echo $$ >"$d/cgroup.procs" &&
                      exec 9<&- "$@"' "$V2_EXEC")
    exec nsenter -t "$pid" -a -- setpriv --bounding-set "$DROP_CAPS" \
        env -i PATH="$INSIDE_PATH" HOME=/root USER=root SYSTEMD_PAGER=cat "${env[@]}" \
        "${place[@]}" env -C "$cwd" "$@"
}

cmd_stop() {
    [ $# = 1 ] || die "usage: $0 stop PID"
    local dir t0
    t0=$(now)
    dir=$(state_of "$1")
    stop_dir "$dir"
    log "PID $1 stopped and cleaned up in $(elapsed "$t0" "$(now)")s"
}

cmd_run() {
    [ $# -ge 1 ] || die "usage: $0 run CMD [ARGS...]"
    local pid rc=0 guard
    DETACH=
    pid=$(cmd_start) || exit 1
    trap 'cmd_stop "$pid" || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # A guard in its own session holds the read end of a pipe whose only
    # writer is this shell: if we are SIGKILLed (ctest's timeout) and the EXIT
    # trap never runs, it sees EOF and stops the container.  (A container init
    # ignores the SIGKILL of unshare's --kill-child: it is a pid-ns init.)
    exec {guard}> >(exec setsid "$SELF" __guard "$pid" >/dev/null 2>&1)
    ( cmd_exec "$pid" "$@" ) {guard}>&- || rc=$?
    exit $rc
}

cmd_guard() {
    local dir
    read -r _ || true
    dir=$(state_of "$1" 2>/dev/null) || exit 0
    stop_dir "$dir"
}

cmd_list() {
    local f dir
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] || continue
        dir=$(dirname "$f")
        if alive "$dir"; then echo "$(cat "$f") $dir"; else echo "$(cat "$f") $dir (dead: run stop)"; fi
    done
}

cmd_cleanup() {
    local f dir rc=0
    for f in "$STATE_ROOT"/*/pid; do
        [ -f "$f" ] || continue
        dir=$(dirname "$f")
        if ! alive "$dir"; then
            log "cleaning up $dir (PID $(cat "$f") is gone)"
            stop_dir "$dir" || rc=1
        fi
    done
    return $rc
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    run) shift; cmd_run "$@" ;;
    list) shift; cmd_list ;;
    cleanup) shift; cmd_cleanup ;;
    __init) shift; inside_init "$@" ;;
    __guard) shift; cmd_guard "$@" ;;
    -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
    *) die "usage: $0 start | exec PID CMD... | stop PID | run CMD... | list | cleanup (see --help)" ;;
esac
