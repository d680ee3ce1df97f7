#!/usr/bin/env bash
# run-vm.sh - run test binaries inside a throw-away QEMU VM (TCG, no KVM) that
# boots Debian's own 6.1 kernel with a busybox initramfs and a pure cgroup v2
# hierarchy mounted at /sys/fs/cgroup.  Results come back over the serial
# console, which is tee'd to stdout and a log file.
#
# usage: tests/vm/run-vm.sh [--timeout SECONDS] [--memory MIB] [--cpus N]
#                           [--cgroup PATH] [--host-root] [--file PATH]...
#                           -- BINARY [ARGS...]
#
#   BINARY and every --file PATH are copied into the VM at the same absolute
#   path, together with the shared libraries ldd reports for them (and the
#   dynamic loader; a directory is copied whole, and the programs in it are
#   not ldd'ed: give them a --file each), modification times kept; the image
#   has a merged /usr as Debian 12 has, and a shipped program replaces the
#   busybox applet of the same name (e.g. --file /usr/bin/sh, dash on Debian,
#   is then /bin/sh too).
#   Inside the VM the harness runs `cd $(dirname BINARY); BINARY ARGS...` as
#   root with stdin /dev/null, in the root cgroup (or in --cgroup PATH, e.g.
#   /user.slice/session.scope, created with +memory +pids +cpu enabled in every
#   cgroup above it), with +memory +pids +cpu in the root's subtree_control.
#   The VM has /proc, /sys, devtmpfs /dev (with /dev/kmsg), tmpfs /tmp, /run
#   and /dev/shm, /etc/passwd with root, HOME=/root and busybox for every tool.
#   The command's environment has CORRAL_VM_DEADLINE: the uptime in seconds
#   (/proc/uptime) by which it should be done, 10 s before the VM is killed.
#   The kernel command line (/proc/cmdline) has CORRAL_TEST_VM=1: tests that
#   may only run in this throw-away VM (a global OOM) look for it: unlike an
#   environment variable, a real machine has it only if booted with it.
#
#   --host-root  instead of a busybox image with copied files, the VM's root is
#              an overlay: the host's "/" read-only over virtio-9p as the lower
#              layer, a tmpfs as the upper (every write stays in the VM). The
#              initramfs only loads the 9p and overlay modules of the same
#              kernel package and switch_roots; the command then sees every
#              program and library the host has (systemd, dbus, ...) at the
#              host's paths, with a fresh tmpfs on /run and the host's /tmp
#              contents under the overlay. --file is not needed (and refused).
#   --timeout  the whole run, set-up (packages, kernel, initramfs) included:
#              default 240 s
#   --memory   guest RAM in MiB (default 2048); --cpus vCPUs (default 2)
#
# environment:
#   CORRAL_VM_CACHE    cache dir for the kernel and logs (default build/vm-cache)
#   CORRAL_VM_REFRESH  set to 1 to re-resolve/re-download the newest kernel
#   CORRAL_VM_APPEND   extra kernel command-line arguments
#   CORRAL_VM_QEMU_ARGS extra qemu arguments (word-split), e.g. "-bios qboot.rom"
#
# exit status: the command's exit status, or 1 if the VM never printed
# "CORRAL-VM-EXIT <status>" (timeout, kernel panic, broken initramfs, ...).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${CORRAL_VM_CACHE:-$REPO/build/vm-cache}
TIMEOUT=240
MEMORY=2048
CPUS=2
CGROUP=
FILES=()
HOST_ROOT=0

die() { echo "run-vm: $*" >&2; exit 1; }
log() { echo "run-vm: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- arguments ---------------------------------------------------------------
USAGE="usage: $0 [--timeout S] [--memory MIB] [--cpus N] [--cgroup PATH] [--host-root] [--file PATH]... -- BINARY [ARGS...]"
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --memory)  [ $# -ge 2 ] || die "--memory needs a value"; MEMORY=$2; shift 2 ;;
        --cpus)    [ $# -ge 2 ] || die "--cpus needs a value"; CPUS=$2; shift 2 ;;
        --cgroup)  [ $# -ge 2 ] || die "--cgroup needs a path"; CGROUP=$2; shift 2 ;;
        --file)    [ $# -ge 2 ] || die "--file needs a path"; FILES+=("$2"); shift 2 ;;
        --host-root) HOST_ROOT=1; shift ;;
        --) shift; break ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        *) die "unknown option '$1' ($USAGE)" ;;
    esac
done
[ $# -ge 1 ] || die "no command given ($USAGE)"
case $TIMEOUT in ''|*[!0-9]*) die "--timeout must be a whole number of seconds" ;; esac
case $MEMORY in ''|*[!0-9]*) die "--memory must be a whole number of MiB" ;; esac
case $CPUS in ''|*[!0-9]*|0) die "--cpus must be a positive whole number" ;; esac
if [ -n "$CGROUP" ]; then
    [[ $CGROUP =~ ^(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$ ]] ||
        die "--cgroup must be a path below the cgroup root such as /user.slice/session.scope (got '$CGROUP')"
fi
BIN=$1; shift
case $BIN in
    /*) ;;
    */*) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
    *) BIN=$(command -v "$BIN") || die "'$BIN' not found in PATH" ;;
esac
[ -f "$BIN" ] || die "no such file: $BIN"
for f in "${FILES[@]}"; do [ -e "$f" ] || die "no such file: $f"; done
[ "$HOST_ROOT" = 0 ] || [ ${#FILES[@]} -eq 0 ] ||
    die "--file and --host-root do not go together: with --host-root the VM sees the host's whole file system"

T0=$(now)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

# ---- host packages -----------------------------------------------------------
# Install only what is missing; dpkg-query is cheap, apt-get is not.
missing=()
for p in qemu-system-x86 busybox-static cpio; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ---- kernel (cached) ---------------------------------------------------------
# $CACHE/vmlinuz is a symlink to the unpacked boot/vmlinuz-* of the newest
# linux-image-6.1.0-N-amd64[-unsigned] package, $CACHE/modules to the modules
# --host-root loads (virtio-pci, 9p, overlay: modules in Debian's config) from
# the same package.  The package is only fetched with `apt-get download` and
# unpacked with `dpkg-deb -x`: the host's /boot, /lib/modules and dpkg database
# are never touched.
# Load order (each module after the ones it depends on, as modinfo's depends=).
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"
mkdir -p "$CACHE/logs"
# Console logs of the last 20 runs are kept.
{ ls -1t "$CACHE"/logs/vm-*.log 2>/dev/null || true; } | tail -n +20 | xargs -r rm -f
newest_kernel_pkg() {
    apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' |
        awk '{print $1}' | sort -V | tail -n1
}
# modules_in DIR: every module of $MODULES is in DIR (a cache from before a
# module was added to the list is fetched again).
modules_in() {
    local m
    for m in $MODULES; do [ -e "$1/$m.ko" ] || return 1; done
}
if [ ! -e "$CACHE/vmlinuz" ] || ! modules_in "$CACHE/modules" || [ "${CORRAL_VM_REFRESH:-0}" = 1 ]; then
    pkg=$(newest_kernel_pkg)
    if [ -z "$pkg" ]; then
        log "no linux-image-6.1.0-*-amd64 package known to apt: apt-get update"
        $SUDO apt-get update -qq >&2 || die "apt-get update failed"
        pkg=$(newest_kernel_pkg)
    fi
    [ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64 package known to apt, even after apt-get update (is bookworm in the sources?)"
    if ! modules_in "$CACHE/$pkg/modules"; then
        log "downloading kernel package $pkg"
        dl=$(mktemp -d "$CACHE/dl.XXXXXX")
        chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true  # apt drops to _apt
        (cd "$dl" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed (see apt's message above)"
        dpkg-deb -x "$dl"/"$pkg"_*.deb "$dl/root"
        rm -rf "$CACHE/$pkg"
        mkdir -p "$CACHE/$pkg/boot" "$CACHE/$pkg/modules"
        cp "$dl"/root/boot/vmlinuz-* "$CACHE/$pkg/boot/"
        for m in $MODULES; do
            ko=$(find "$dl"/root/lib/modules -name "$m.ko" -print -quit)
            [ -n "$ko" ] || die "$pkg has no module $m.ko (needed by --host-root)"
            cp "$ko" "$CACHE/$pkg/modules/"
        done
        rm -rf "$dl"
    fi
    vmlinuz=$(ls "$CACHE/$pkg"/boot/vmlinuz-* | head -n1)
    ln -sfn "${vmlinuz#"$CACHE"/}" "$CACHE/vmlinuz"
    ln -sfn "$pkg/modules" "$CACHE/modules"
fi
KERNEL=$(readlink -f "$CACHE/vmlinuz")
[ -s "$KERNEL" ] || die "kernel image missing: $KERNEL (try CORRAL_VM_REFRESH=1)"

# ---- initramfs ---------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/corral-vm.XXXXXX")
QPID=
cleanup() { [ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root
# Merged /usr as on Debian 12: /bin/sh and /usr/bin/sh are one file, and a
# program shipped from the host's /usr/bin replaces busybox's applet.
mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/{dev,proc,sys,tmp,run,root,etc}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done

# busybox-static provides every tool the init script and the tests need.
cp /bin/busybox "$ROOT/bin/busybox"
# (${path%/*} rather than a dirname fork: an applet may be at the top, e.g. linuxrc.)
"$ROOT/bin/busybox" --list-full | while read -r applet; do
    link=$ROOT/$applet
    [ -e "$link" ] || { [ -d "${link%/*}" ] || mkdir -p "${link%/*}"; ln -s /bin/busybox "$link"; }
done
# The kernel opens /dev/console before init runs; creating it needs root.
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

# copy_in PATH: copy PATH (dereferenced) to the same absolute path in the
# image, replacing any busybox symlink there, and pull in its shared libraries.
# A directory is copied whole and its files are not ldd'ed: list a program or
# .so inside it with a --file of its own (a file is ldd'ed if executable or
# named *.so or *.so.*).  Modification times are kept (cpio
# and the kernel keep them too): Python's __pycache__/*.pyc record their
# source's mtime and would all be stale otherwise, every import compiled again.
# (Shell tests rather than forks where they do: the python3 files are ~250.)
copy_in() {
    local src=$1 dst=$ROOT$1 lib
    [ -d "${dst%/*}" ] || mkdir -p "${dst%/*}"
    if [ -e "$dst" ] || [ -L "$dst" ]; then rm -rf "$dst"; fi
    cp -rL --preserve=timestamps "$src" "$dst"
    # Programs and shared objects (an extension module's .so is mode 644).
    [ -f "$src" ] || return 0
    [ -x "$src" ] || case $src in *.so|*.so.*) ;; *) return 0 ;; esac
    # ldd lines: "libc.so.6 => /lib/.../libc.so.6 (0x...)" and "/lib64/ld-linux...(0x...)"
    { ldd "$src" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
    while read -r lib; do
        [ -e "$ROOT$lib" ] || { [ -d "$ROOT${lib%/*}" ] || mkdir -p "$ROOT${lib%/*}"; cp -L "$lib" "$ROOT$lib"; }
    done
}
if [ "$HOST_ROOT" = 0 ]; then
    copy_in "$BIN"
    for f in "${FILES[@]}"; do
        case $f in
            /*) copy_in "$f" ;;
            *) copy_in "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" ;;
        esac
    done
    MAIN=$ROOT/init
else
    mkdir -p "$ROOT/modules"
    for m in $MODULES; do cp "$CACHE/modules/$m.ko" "$ROOT/modules/"; done
    MAIN=$ROOT/init2
fi

# Quote each argument for the init script ('...' with ' -> '\'').
q() { local s=${1//\'/\'\\\'\'}; printf "'%s' " "$s"; }
CMD="$(q "$BIN")"; for a in "$@"; do CMD+="$(q "$a")"; done

# The tmpfs directories: /tmp and /run (corral keeps its locks in /run/corral)
# on the busybox image, where a tmpfs would hide files shipped there, so they
# are copied across (cp -a gives the tmpfs the copied directory's mode: chmod
# after); with --host-root only an empty /run (the host's /run holds
# its live sockets and state), while /tmp is already in the overlay's tmpfs.
TMPFS_COPY="/tmp /run" TMPFS_EMPTY=
[ "$HOST_ROOT" = 0 ] || { TMPFS_COPY=; TMPFS_EMPTY=/run; }
cat > "$MAIN" <<EOF
#!/bin/busybox sh
# Generated by tests/vm/run-vm.sh: PID 1 inside the test VM (with --host-root,
# after the initramfs's /init has switched to the overlay root). busybox sh
# runs its own applets for every command here, whatever was shipped; the
# command gets Debian's root PATH.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
for d in $TMPFS_COPY; do
    mode=755; [ \$d = /tmp ] && mode=1777
    { mkdir /.tmpfs && mount -t tmpfs -o mode=\$mode tmpfs /.tmpfs && cp -a \$d/. /.tmpfs/ &&
      mount --move /.tmpfs \$d && rmdir /.tmpfs && chmod \$mode \$d; } || echo "CORRAL-VM: tmpfs on \$d failed"
done
for d in $TMPFS_EMPTY; do
    mount -t tmpfs -o mode=755 tmpfs \$d || echo "CORRAL-VM: tmpfs on \$d failed"
done
mkdir -p /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && mount -t devpts devpts /dev/pts
ln -s /proc/self/fd /dev/fd && ln -s fd/0 /dev/stdin && ln -s fd/1 /dev/stdout && ln -s fd/2 /dev/stderr
hostname corral-vm
# Mounted as systemd mounts it on Debian 12.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
    echo "CORRAL-VM: mounting cgroup2 failed"
echo "CORRAL-VM: kernel \$(uname -r), \$(nproc) CPUs, \$(awk '/MemTotal/ {print int(\$2 / 1024)}' /proc/meminfo) MiB," \\
     "clocksource \$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "CORRAL-VM: cgroup.controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
for c in memory pids cpu; do
    echo "+\$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "CORRAL-VM: cannot enable \$c"
done
echo "CORRAL-VM: cgroup.subtree_control: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
# --cgroup: the command moves itself into that cgroup, created with the
# controllers enabled in every cgroup above it and none in its own
# subtree_control (as in a login session's scope or a container's cgroup).
cg=/sys/fs/cgroup
for part in \$(echo $(q "${CGROUP#/}") | tr / ' '); do
    for c in memory pids cpu; do
        echo "+\$c" > "\$cg/cgroup.subtree_control" || echo "CORRAL-VM: cannot enable \$c in \$cg"
    done
    cg=\$cg/\$part
    mkdir -p "\$cg"
done
[ "\$cg" = /sys/fs/cgroup ] || echo "CORRAL-VM: the command runs in \$cg (controllers: \$(cat "\$cg/cgroup.controllers"))"
echo "CORRAL-VM-BEGIN"
( echo 0 > "\$cg/cgroup.procs" && cd "\$(dirname $(q "$BIN"))" && exec $CMD </dev/null )
echo "CORRAL-VM-EXIT \$?"
poweroff -f
EOF
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
    > "$ROOT/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$ROOT/etc/group"
echo corral-vm > "$ROOT/etc/hostname"
chmod 755 "$MAIN"
if [ "$HOST_ROOT" = 1 ]; then
    # Stage 1: the host's "/" over virtio-9p (read-only) under a tmpfs upper
    # layer becomes the root; then /init2 (above) runs from there. A step that
    # fails prints CORRAL-VM-FAIL and powers off: run-vm.sh reports that line.
    cat > "$ROOT/init" <<EOF
#!/bin/busybox sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "CORRAL-VM-FAIL: \$*"; poweroff -f; sleep 5; }
for m in $MODULES; do insmod /modules/\$m.ko || fail "insmod \$m.ko failed"; done
mkdir -p /lower /rw /newroot
# cache=loose: the export is read-only and does not change while the VM runs.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower ||
    fail "mounting the host's / over virtio-9p failed"
mount -t tmpfs -o mode=755 tmpfs /rw && mkdir /rw/upper /rw/work || fail "tmpfs for the overlay failed"
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    fail "the overlay root (host / over 9p + tmpfs) failed"
cp /init2 /newroot/.corral-vm-init && chmod 755 /newroot/.corral-vm-init || fail "copying init2 failed"
[ -x /newroot/bin/busybox ] || fail "the host has no /bin/busybox (apt-get install busybox-static)"
# Moved, not unmounted: under the overlay lie the host's /proc and /sys as
# 9p serves them (/proc/self/exe there is the host's qemu), and busybox runs
# its applets through /proc/self/exe.
for d in /proc /sys /dev; do mount --move \$d /newroot\$d || fail "moving \$d to the new root failed"; done
exec switch_root /newroot /.corral-vm-init
EOF
    chmod 755 "$ROOT/init"
fi
# Uncompressed: the kernel unpacks it faster under TCG than it inflates a gzip
# of it (~1 s less boot with the host tests' 55 MB), and no time goes into gzip.
INITRD=$WORK/initrd.cpio
(cd "$ROOT" && find . | cpio -o -H newc -R 0:0 --quiet) > "$INITRD"

# ---- boot --------------------------------------------------------------------
LOG=$CACHE/logs/vm-$(date +%Y%m%d-%H%M%S)-$$.log
: > "$LOG"
T1=$(now)
# --timeout covers the set-up too: qemu gets what is left of it.
left=$(awk -v t="$TIMEOUT" -v a="$T0" -v b="$T1" 'BEGIN { printf "%d", t - (b - a) }')
[ "$left" -ge 10 ] || die "set-up took $(elapsed "$T0" "$T1") s of the ${TIMEOUT} s timeout: no time left to boot"
log "kernel $KERNEL, initrd $(du -h "$INITRD" | cut -f1), ${MEMORY} MiB, $CPUS CPUs," \
    "${left} s left of the ${TIMEOUT} s timeout, log $LOG"
# qemu's stdout (the serial console) goes through a FIFO so that we can
# timestamp the begin marker while tee'ing every line (less SeaBIOS's terminal
# escapes); `timeout` is the hard limit (SIGTERM, then SIGKILL 5 s later).
# `quiet` alone still prints err-level kernel lines, every OOM kill among them,
# on the console between the test lines: loglevel=3 keeps them in /dev/kmsg.
# CORRAL_VM_DEADLINE=N on the command line is in init's environment, and so the
# command's: the uptime (/proc/uptime, which starts after qemu does) by which
# it should have reported, 10 s before the hard limit. CORRAL_TEST_VM=1 there
# says "this is the test VM" to tests that must never run on a real machine.
mkfifo "$WORK/serial"
VIRTFS=()
[ "$HOST_ROOT" = 0 ] || VIRTFS=(-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap)
timeout -k 5 "$left" qemu-system-x86_64 -accel tcg -nographic -no-reboot \
    -m "$MEMORY" -smp "$CPUS" -nic none -kernel "$KERNEL" -initrd "$INITRD" \
    "${VIRTFS[@]}" ${CORRAL_VM_QEMU_ARGS:-} \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 CORRAL_TEST_VM=1 CORRAL_VM_DEADLINE=$((left - 10)) ${CORRAL_VM_APPEND:-}" \
    </dev/null >"$WORK/serial" 2>&1 &
QPID=$!
while IFS= read -r line || [ -n "$line" ]; do  # a last line without newline too
    line=${line%$'\r'}
    printf '%s\n' "$line"; printf '%s\n' "$line" >> "$LOG"
    case $line in CORRAL-VM-BEGIN*) [ -e "$WORK/t_begin" ] || now > "$WORK/t_begin" ;; esac
done < <(sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c=>]//g' "$WORK/serial")
qrc=0; wait "$QPID" || qrc=$?
QPID=
T2=$(now)

# ---- verdict -----------------------------------------------------------------
boot="n/a"; [ -e "$WORK/t_begin" ] && boot="$(elapsed "$T1" "$(cat "$WORK/t_begin")") s"
status=$(sed -n 's/^CORRAL-VM-EXIT \([0-9][0-9]*\).*/\1/p' "$LOG" | tail -n1)
log "boot (qemu start -> CORRAL-VM-BEGIN): $boot; vm $(elapsed "$T1" "$T2") s;" \
    "total incl. setup $(elapsed "$T0" "$T2") s"
if [ -z "$status" ]; then
    if failed=$(sed -n 's/^CORRAL-VM-FAIL: //p' "$LOG" | head -n1) && [ -n "$failed" ]; then
        die "the VM's init could not start the command: $failed; console log: $LOG"
    fi
    case $qrc in
        124|137) why="the ${TIMEOUT} s timeout ran out: qemu was killed" ;;  # timeout(1): TERM, then KILL
        0) why="the VM stopped early (panic=-1 reboots and -no-reboot then ends qemu): $(
               grep -m1 -o 'Kernel panic.*' "$LOG" || echo "no kernel panic on the console: did init die?")" ;;
        *) why="qemu failed with status $qrc (its message is above)" ;;
    esac
    log "the console's last lines:"
    grep -v '^[[:space:]]*$' "$LOG" | tail -n 3 | sed 's/^/    /'
    die "the VM never reported CORRAL-VM-EXIT: $why; console log: $LOG"
fi
log "command exit status $status (log: $LOG)"
exit "$status"
