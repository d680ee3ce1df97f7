#!/usr/bin/env bash
# run-vm.sh - run test binaries inside a throw-away QEMU VM (TCG, no KVM) that
# boots Debian's own 6.1 kernel with a busybox initramfs and a pure cgroup v2
# hierarchy mounted at /sys/fs/cgroup.  Results come back over the serial
# console, which is tee'd to stdout and a log file.
#
# usage: tests/vm/run-vm.sh [--timeout SECONDS] [--file PATH]... -- BINARY [ARGS...]
#
#   BINARY and every --file PATH are copied into the VM at the same absolute
#   path, together with the shared libraries ldd reports for them (and the
#   dynamic loader).  Inside the VM the harness runs `cd $(dirname BINARY);
#   BINARY ARGS...` as root in the root cgroup, with +memory +pids +cpu enabled
#   in the root's cgroup.subtree_control.
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
FILES=()

die() { echo "run-vm: $*" >&2; exit 1; }
log() { echo "run-vm: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- arguments ---------------------------------------------------------------
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --file)    [ $# -ge 2 ] || die "--file needs a path"; FILES+=("$2"); shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (usage: $0 [--timeout S] [--file PATH]... -- BINARY [ARGS...])" ;;
    esac
done
[ $# -ge 1 ] || die "no command given (usage: $0 [--timeout S] [--file PATH]... -- BINARY [ARGS...])"
case $TIMEOUT in ''|*[!0-9]*) die "--timeout must be a whole number of seconds" ;; esac
BIN=$1; shift
case $BIN in
    /*) ;;
    */*) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
    *) BIN=$(command -v "$BIN") || die "'$1' not found in PATH" ;;
esac
[ -f "$BIN" ] || die "no such file: $BIN"
for f in "${FILES[@]}"; do [ -e "$f" ] || die "no such file: $f"; done

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
# linux-image-6.1.0-N-amd64[-unsigned] package.  The package is only fetched
# with `apt-get download` and unpacked with `dpkg-deb -x`: the host's /boot
# and dpkg database are never touched.
mkdir -p "$CACHE/logs"
if [ ! -e "$CACHE/vmlinuz" ] || [ "${CORRAL_VM_REFRESH:-0}" = 1 ]; then
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' \
          | awk '{print $1}' | sort -V | tail -n1)
    [ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64 package known to apt (run apt-get update?)"
    if [ ! -d "$CACHE/$pkg" ]; then
        log "downloading kernel package $pkg"
        dl=$(mktemp -d "$CACHE/dl.XXXXXX")
        chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true  # apt drops to _apt
        (cd "$dl" && apt-get download -q "$pkg" >&2)
        dpkg-deb -x "$dl"/"$pkg"_*.deb "$dl/root"
        mkdir -p "$CACHE/$pkg/boot"
        cp "$dl"/root/boot/vmlinuz-* "$CACHE/$pkg/boot/"
        rm -rf "$dl"
    fi
    vmlinuz=$(ls "$CACHE/$pkg"/boot/vmlinuz-* | head -n1)
    ln -sfn "${vmlinuz#"$CACHE"/}" "$CACHE/vmlinuz"
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
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc}

# busybox-static provides every tool the init script and the tests need.
cp /bin/busybox "$ROOT/bin/busybox"
"$ROOT/bin/busybox" --list-full | while read -r applet; do
    [ -e "$ROOT/$applet" ] || { mkdir -p "$ROOT/$(dirname "$applet")"; ln -s /bin/busybox "$ROOT/$applet"; }
done
# The kernel opens /dev/console before init runs; creating it needs root.
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

# copy_in PATH: copy PATH (dereferenced) to the same absolute path in the
# image, replacing any busybox symlink there, and pull in its shared libraries.
copy_in() {
    local src=$1 dst=$ROOT$1 lib
    mkdir -p "$(dirname "$dst")"
    rm -rf "$dst"
    cp -rL "$src" "$dst"
    [ -f "$src" ] && [ -x "$src" ] || return 0
    # ldd lines: "libc.so.6 => /lib/.../libc.so.6 (0x...)" and "/lib64/ld-linux...(0x...)"
    { ldd "$src" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
    while read -r lib; do
        [ -e "$ROOT$lib" ] || { mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"; }
    done
}
copy_in "$BIN"
for f in "${FILES[@]}"; do copy_in "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; done

# Quote each argument for the init script ('...' with ' -> '\'').
q() { local s=${1//\'/\'\\\'\'}; printf "'%s' " "$s"; }
CMD="$(q "$BIN")"; for a in "$@"; do CMD+="$(q "$a")"; done

cat > "$ROOT/init" <<EOF
#!/bin/busybox sh
# Generated by tests/vm/run-vm.sh: PID 1 inside the test VM.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# A tmpfs on /tmp would hide files shipped under /tmp: copy them across.
mkdir /.tmpfs && mount -t tmpfs -o mode=1777 tmpfs /.tmpfs && cp -a /tmp/. /.tmpfs/
mount --move /.tmpfs /tmp && rmdir /.tmpfs
mount -t cgroup2 none /sys/fs/cgroup || echo "CORRAL-VM: mounting cgroup2 failed"
echo "CORRAL-VM: kernel \$(uname -r)"
echo "CORRAL-VM: cgroup.controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
for c in memory pids cpu; do
    echo "+\$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "CORRAL-VM: cannot enable \$c"
done
echo "CORRAL-VM: cgroup.subtree_control: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "CORRAL-VM-BEGIN"
cd "\$(dirname $(q "$BIN"))" && $CMD </dev/null
echo "CORRAL-VM-EXIT \$?"
poweroff -f
EOF
chmod 755 "$ROOT/init"
INITRD=$WORK/initrd.gz
(cd "$ROOT" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$INITRD"

# ---- boot --------------------------------------------------------------------
LOG=$CACHE/logs/vm-$(date +%Y%m%d-%H%M%S)-$$.log
: > "$LOG"
log "kernel $KERNEL, initrd $(du -h "$INITRD" | cut -f1), timeout ${TIMEOUT}s, log $LOG"
T1=$(now)
# qemu's stdout (the serial console) goes through a FIFO so that we can
# timestamp the begin marker while tee'ing every line; `timeout` is the hard
# limit (SIGTERM, then SIGKILL 5 s later).
mkfifo "$WORK/serial"
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -nographic -no-reboot \
    -m 1024 -smp 2 -nic none -kernel "$KERNEL" -initrd "$INITRD" \
    ${CORRAL_VM_QEMU_ARGS:-} \
    -append "console=ttyS0 panic=-1 quiet ${CORRAL_VM_APPEND:-}" \
    </dev/null >"$WORK/serial" 2>&1 &
QPID=$!
while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line"; printf '%s\n' "$line" >> "$LOG"
    case $line in CORRAL-VM-BEGIN*) [ -e "$WORK/t_begin" ] || now > "$WORK/t_begin" ;; esac
done < "$WORK/serial"
qrc=0; wait "$QPID" || qrc=$?
QPID=
T2=$(now)

# ---- verdict -----------------------------------------------------------------
boot="n/a"; [ -e "$WORK/t_begin" ] && boot="$(elapsed "$T1" "$(cat "$WORK/t_begin")") s"
status=$(sed -n 's/^CORRAL-VM-EXIT \([0-9][0-9]*\).*/\1/p' "$LOG" | tail -n1)
log "boot (qemu start -> CORRAL-VM-BEGIN): $boot; vm $(elapsed "$T1" "$T2") s;" \
    "total incl. setup $(elapsed "$T0" "$T2") s"
if [ -z "$status" ]; then
    why=" (hard timeout hit)"    # timeout(1) exits 124, or 137 after SIGKILL
    [ "$qrc" = 124 ] || [ "$qrc" = 137 ] ||
        why=" (qemu stopped early with status $qrc: kernel panic or init died?)"
    die "the VM did not report CORRAL-VM-EXIT within $TIMEOUT s$why: see $LOG"
fi
log "command exit status $status (log: $LOG)"
exit "$status"
