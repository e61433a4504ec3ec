#!/bin/bash
# The kiosk machine proven by booting it: build profiles/kiosk-machine.toml, boot it under QEMU
# with OVMF (UEFI), see the served page over the image's wayvnc, check from inside that the root
# is the dm-verity device, read-only, with a tmpfs overlay that forgets at reboot, and that one
# flipped byte of the root partition makes the boot fail verification.
#
#     sudo tests/live/machine-boot.sh OUTDIR
#
# 1. builds debroot and, with it, a profile extending profiles/kiosk-machine.toml whose kiosk
#    URL is a page this script serves on the host's loopback (QEMU's user network shows the
#    host's loopback to the guest as 10.0.2.2) and whose wayvnc listens on every address (the
#    VNC port is forwarded: hostfwd 127.0.0.1:VNC_PORT -> guest 5900);
# 2. lays the squashfs root and its dm-verity hash tree out on a GPT disk following the
#    conventions of `--format disk` (README "Booting a kiosk"): root-a's partition UUID is the
#    first half of the root hash, root-a-verity's the second, so systemd-veritysetup-generator
#    finds both from `roothash=` alone. The kernel and initramfs the build made are booted by
#    OVMF through QEMU's direct kernel boot (-kernel/-initrd/-append: the image's
#    /etc/kernel/cmdline plus roothash=). MACHINE_BOOT_DISK=IMG boots a disk image written by
#    `--format disk` instead (systemd-boot and the UKI on its ESP, no -kernel);
# 3. boot 1: a test-only unit, handed to the guest's systemd as SMBIOS credentials
#    (systemd.extra-unit.kiosk-probe.service and a drop-in that makes multi-user.target want
#    it; nothing of it is in the image, and the image has no root login), prints to the serial
#    console the device-mapper devices (name, uuid, read-only flag), what / is, and whether a
#    marker file exists, then writes it. The test requires root = dm-verity (CRYPT-VERITY-*,
#    ro=1) under an overlay, the marker absent, the write done; reads the page over VNC
#    (rfb_capture.py, as kiosk-smoke.sh does), then powers the guest off (ACPI);
# 4. boot 2, same disk: the marker must be absent again, and the disk's bytes unchanged;
# 5. boot 3, a copy of the disk with one byte of the root partition flipped (its squashfs
#    superblock, which the boot must read): the console must show dm-verity's corruption error
#    and no kiosk may come up.
# Skips (exit 77, saying why) where QEMU, OVMF or a usable accelerator is missing: /dev/kvm is
# probed with a tiny boot; a KVM that cannot run the kernel (e.g. a paravirtual one inside a
# VM) is reported, and MACHINE_BOOT_ACCEL=tcg runs the whole test emulated (slow).
# Settings (environment): MACHINE_BOOT_CACHE_DIR (debroot's cache, default OUTDIR/cache),
# MACHINE_BOOT_IMAGE (reuse a built OUTDIR-like k.squashfs with .verity/.roothash: skips the
# build), MACHINE_BOOT_ACCEL (kvm|tcg, default kvm), MACHINE_BOOT_TIMEOUT (per boot; 300 with
# KVM, 1500 with TCG), MACHINE_BOOT_HTTP_PORT (18081), MACHINE_BOOT_VNC_PORT (15901).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
started=$EPOCHREALTIME
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
case "$outdir/" in "$repo"/*)
    echo "error: OUTDIR \`$outdir\` is inside the repository; give a directory outside it" >&2
    exit 2
    ;;
esac
work="$outdir/work"
cache="${MACHINE_BOOT_CACHE_DIR:-$outdir/cache}"
http_port="${MACHINE_BOOT_HTTP_PORT:-18081}"
vnc_port="${MACHINE_BOOT_VNC_PORT:-15901}"
accel="${MACHINE_BOOT_ACCEL:-kvm}"
case "$accel" in
    kvm) timeout="${MACHINE_BOOT_TIMEOUT:-300}" ;;
    tcg) timeout="${MACHINE_BOOT_TIMEOUT:-1500}" ;;
    *) echo "MACHINE_BOOT_ACCEL=$accel is not kvm or tcg" >&2; exit 2 ;;
esac
python=/usr/bin/python3
[ -x "$python" ] || python=python3
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
colours=(d02020 20a040 2040d0 f0c020 20c0c0 a020a0)
resolution=1280x800

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "machine-boot: $*" >&2; }
die() { say "error: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 > /dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -r "$ovmf_code" ] && [ -r "$ovmf_vars" ] || skip "OVMF is not installed ($ovmf_code; apt-get install ovmf)"
for command in sfdisk sha256sum cargo "$python"; do
    command -v "$command" > /dev/null || die "\`$command\` is not installed"
done

qemu_pid=""
http_pid=""
on_exit() {
    local status=$?
    [ -z "$qemu_pid" ] || { kill "$qemu_pid" 2> /dev/null || true; wait "$qemu_pid" 2> /dev/null || true; }
    [ -z "$http_pid" ] || { kill "$http_pid" 2> /dev/null || true; wait "$http_pid" 2> /dev/null || true; }
    say "total: $(elapsed "$started" "$EPOCHREALTIME")"
    case "$status" in 0) say PASS ;; 77) ;; *) say "FAIL (logs in $work)" ;; esac
    exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

rm -rf "$work"
mkdir -p "$work/profile" "$work/www" "$cache"

# --- the accelerator -------------------------------------------------------------------------
if [ "$accel" = kvm ]; then
    [ -w /dev/kvm ] || skip "/dev/kvm is missing or not writable (MACHINE_BOOT_ACCEL=tcg emulates, slowly)"
    # Before the long build: can KVM run the firmware at all? Some nested or paravirtual KVMs
    # (kvm-pvm) stop in OVMF's first instructions with an internal error. Ten seconds of the
    # firmware alone tell.
    cp "$ovmf_vars" "$work/probe-vars.fd"
    timeout 10 qemu-system-x86_64 -enable-kvm -cpu host -machine q35 -m 256 -nodefaults \
        -display none -serial none -monitor none \
        -drive if=pflash,format=raw,readonly=on,file="$ovmf_code" \
        -drive if=pflash,format=raw,file="$work/probe-vars.fd" \
        < /dev/null > "$work/probe-qemu.log" 2>&1 || true
    if grep -aq "KVM internal error" "$work/probe-qemu.log"; then
        skip "KVM cannot run the UEFI firmware here ($(grep -a -m1 'KVM internal error' "$work/probe-qemu.log"); MACHINE_BOOT_ACCEL=tcg emulates, slowly)"
    fi
fi

# --- build -----------------------------------------------------------------------------------
if [ -n "${MACHINE_BOOT_IMAGE:-}" ]; then
    image=$MACHINE_BOOT_IMAGE
    say "using the built image $image"
else
    say "building debroot (cargo build --release)"
    (cd "$repo" && cargo build --release --quiet)
    cat > "$work/profile/machine-boot.toml" << PROFILE
# The live machine test's profile, written by tests/live/machine-boot.sh.
extends = "$repo/profiles/kiosk-machine.toml"

[build.env]
KIOSK_URL = "http://10.0.2.2:$http_port/kiosk.html"
WAYVNC_ADDRESS = "0.0.0.0"
WAYVNC_PORT = "5900"
KIOSK_RESOLUTION = "$resolution"
PROFILE
    image="$work/kiosk.squashfs"
    build_started=$EPOCHREALTIME
    "$repo/target/release/debroot" build "$work/profile/machine-boot.toml" -o "$image" \
        --cache-dir "$cache" 2>&1 | tee "$work/build.log" >&2
    say "build: $(elapsed "$build_started" "$EPOCHREALTIME")"
fi
root_hash=$(cat "$image.roothash")
case "$root_hash" in *[!0-9a-f]* | "") die "$image.roothash holds no root hash" ;; esac
[ "${#root_hash}" -eq 64 ] || die "the root hash is not a SHA-256 one (${#root_hash} digits)"

# --- the disk --------------------------------------------------------------------------------
uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
disk="$work/disk.img"
kernel_args=()
if [ -n "${MACHINE_BOOT_DISK:-}" ]; then
    cp --reflink=auto "$MACHINE_BOOT_DISK" "$disk"
else
    command -v unsquashfs > /dev/null || die "\`unsquashfs\` is not installed (squashfs-tools)"
    unsquashfs -q -f -d "$work/tree" "$image" /boot /etc/kernel/cmdline > /dev/null
    kernels=("$work"/tree/boot/vmlinuz-*)
    initrds=("$work"/tree/boot/initrd.img-*)
    [ "${#kernels[@]}" -eq 1 ] && [ -f "${kernels[0]}" ] || die "not exactly one /boot/vmlinuz-* in the image: ${kernels[*]}"
    [ "${#initrds[@]}" -eq 1 ] && [ -f "${initrds[0]}" ] || die "not exactly one /boot/initrd.img-* in the image: ${initrds[*]}"
    cmdline="$(cat "$work/tree/etc/kernel/cmdline") roothash=$root_hash"
    kernel_args=(-kernel "${kernels[0]}" -initrd "${initrds[0]}" -append "$cmdline")
    mib() { echo $((($(stat -c %s "$1") + 1048575) / 1048576)); }
    data_mib=$(mib "$image")
    hash_mib=$(mib "$image.verity")
    truncate -s $((1 + 8 + 2 * (data_mib + hash_mib) + 1))M "$disk"
    sfdisk -q "$disk" << LAYOUT
label: gpt
start=2048, size=8M, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
size=${data_mib}M, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$(uuid "${root_hash:0:32}"), name=root-a
size=${hash_mib}M, type=2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5, uuid=$(uuid "${root_hash:32:32}"), name=root-a-verity
size=${data_mib}M, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root-b
size=${hash_mib}M, type=2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5, name=root-b-verity
LAYOUT
    start_of() { sfdisk -d "$disk" | awk -v p="$disk$1 " 'index($0, p) == 1 { sub(/.*start= */, ""); sub(/,.*/, ""); print }'; }
    dd if="$image" of="$disk" bs=512 seek="$(start_of 2)" conv=notrunc status=none
    dd if="$image.verity" of="$disk" bs=512 seek="$(start_of 3)" conv=notrunc status=none
fi
root_start=$(sfdisk -d "$disk" | awk '/name="root-a"/ { sub(/.*start= */, ""); sub(/,.*/, ""); print; exit }')
[ -n "$root_start" ] || die "$disk has no partition named root-a"
disk_sha256=$(sha256sum < "$disk")

# --- the test-only probe, as SMBIOS credentials ----------------------------------------------
probe_unit='[Unit]
Description=debroot machine-boot test probe (injected by SMBIOS credential)
After=local-fs.target systemd-tmpfiles-setup.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c '"'"'for d in /sys/block/dm-*; do echo "kiosk-probe: dm name=$$(cat $$d/dm/name) uuid=$$(cat $$d/dm/uuid) ro=$$(cat $$d/ro)"; done'"'"'
ExecStart=/bin/sh -c '"'"'echo "kiosk-probe: root $$(findmnt -n -o FSTYPE,OPTIONS /)"'"'"'
ExecStart=/bin/sh -c '"'"'findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -E "^/run/systemd/overlay|mapper" | sed "s/^/kiosk-probe: mount /"'"'"'
ExecStart=/bin/sh -c '"'"'if [ -e /var/lib/kiosk-probe/marker ]; then echo "kiosk-probe: marker present"; else echo "kiosk-probe: marker absent"; fi; mkdir -p /var/lib/kiosk-probe && echo written > /var/lib/kiosk-probe/marker && sync && echo "kiosk-probe: write $$(cat /var/lib/kiosk-probe/marker)"'"'"'
'
probe_dropin='[Unit]
Wants=kiosk-probe.service
'
b64() { printf '%s' "$1" | base64 -w0; }
smbios=(
    -smbios "type=11,value=io.systemd.credential.binary:systemd.extra-unit.kiosk-probe.service=$(b64 "$probe_unit")"
    -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.multi-user.target~kiosk-probe=$(b64 "$probe_dropin")"
)

# --- the page --------------------------------------------------------------------------------
blocks=""
for colour in "${colours[@]}"; do blocks="$blocks<div style=\"background:#$colour\"></div>"; done
cat > "$work/www/kiosk.html" << HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>debroot machine boot test</title>
<style>
html, body { margin: 0; width: 100%; height: 100%; overflow: hidden; }
body { display: grid; grid-template-columns: repeat(3, 1fr); grid-template-rows: repeat(2, 1fr); }
</style></head>
<body>$blocks</body></html>
HTML
"$python" -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/www" > "$work/http.log" 2>&1 &
http_pid=$!

# --- boot ------------------------------------------------------------------------------------
# boot NAME DISK: starts QEMU in the background (OVMF, the disk, user networking with the VNC
# port forwarded, serial console to NAME-console.log, a monitor socket for ACPI power-off).
boot() {
    local name=$1 disk=$2
    cp "$ovmf_vars" "$work/$name-vars.fd"
    rm -f "$work/$name-monitor.sock"
    local cpu=(-cpu max)
    [ "$accel" = tcg ] || cpu=(-cpu host)
    boot_started=$EPOCHREALTIME
    qemu-system-x86_64 -machine q35,accel="$accel" "${cpu[@]}" -smp 2 -m 2048 \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
        -drive if=pflash,format=raw,unit=1,file="$work/$name-vars.fd" \
        -drive if=virtio,format=raw,file="$disk" \
        "${kernel_args[@]}" "${smbios[@]}" \
        -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$vnc_port-:5900 \
        -display none -vga std -serial file:"$work/$name-console.log" \
        -monitor unix:"$work/$name-monitor.sock",server,nowait \
        < /dev/null > "$work/$name-qemu.log" 2>&1 &
    qemu_pid=$!
    boot_deadline=$((SECONDS + timeout))
}

# wait_console NAME PATTERN: waits until the console log matches PATTERN (grep -E).
wait_console() {
    local name=$1 pattern=$2
    until grep -aqE "$pattern" "$work/$name-console.log" 2> /dev/null; do
        if ! kill -0 "$qemu_pid" 2> /dev/null; then
            grep -aq "KVM internal error" "$work/$name-qemu.log" &&
                skip "KVM cannot run this guest ($(grep -a -m1 'KVM internal error' "$work/$name-qemu.log"); MACHINE_BOOT_ACCEL=tcg emulates, slowly)"
            die "QEMU exited during $name; see $work/$name-qemu.log and $work/$name-console.log"
        fi
        [ "$SECONDS" -lt "$boot_deadline" ] || return 1
        sleep 1
    done
}

# poweroff NAME: ACPI power button, then waits for QEMU to exit (kills it after 120 s).
poweroff() {
    local name=$1
    "$python" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(0.5)
s.sendall(b"system_powerdown\n"); time.sleep(0.5)' "$work/$name-monitor.sock"
    for _ in $(seq 120); do kill -0 "$qemu_pid" 2> /dev/null || break; sleep 1; done
    if kill -0 "$qemu_pid" 2> /dev/null; then
        say "$name: the guest did not power off in 120s; killing QEMU"
        kill "$qemu_pid"
    fi
    wait "$qemu_pid" 2> /dev/null || true
    qemu_pid=""
}

probe_lines() { grep -a 'kiosk-probe: ' "$work/$1-console.log" | sed 's/.*kiosk-probe: //; s/\r$//' | sort -u; }

# Boot 1: verity, read-only, overlay, a write; the page over VNC.
boot first "$disk"
wait_console first 'kiosk-probe: write ' || die "no probe report in ${timeout}s; see $work/first-console.log"
say "first: probe report after $(elapsed "$boot_started" "$EPOCHREALTIME"):"
probe_lines first | sed 's/^/    /' >&2
probe_lines first | grep -qE '^dm name=root uuid=CRYPT-VERITY-[^ ]+ ro=1$' ||
    die "the root device is not a read-only dm-verity device named root"
probe_lines first | grep -qE '^root overlay ' || die "/ is not an overlay"
probe_lines first | grep -qE '^mount [^ ]+ /dev/mapper/root squashfs ro[, ]' ||
    die "/dev/mapper/root is not mounted read-only as squashfs under the overlay"
probe_lines first | grep -qx 'marker absent' || die "the marker existed before the first write"
probe_lines first | grep -qx 'write written' || die "the write to the overlay failed"
if ! "$python" "$here/rfb_capture.py" --port "$vnc_port" --size "$resolution" --grid 3x2 \
    --colours "$(IFS=,; echo "${colours[*]}")" --png "$outdir/machine.png" \
    --timeout "$((boot_deadline - SECONDS))"; then
    die "the kiosk never showed the served page; the last frame is $outdir/machine.png"
fi
say "first: boot to the page over VNC: $(elapsed "$boot_started" "$EPOCHREALTIME")"
poweroff first

# Boot 2: the same disk; the write is gone, the disk unchanged.
boot second "$disk"
wait_console second 'kiosk-probe: write ' || die "no probe report in ${timeout}s; see $work/second-console.log"
probe_lines second | grep -qx 'marker absent' || die "the marker written in the first boot survived the reboot"
poweroff second
[ "$(sha256sum < "$disk")" = "$disk_sha256" ] || die "the disk changed: a write reached it"
say "second: the first boot's write is gone; the disk's bytes are unchanged"

# Boot 3: one flipped byte of root-a (its squashfs superblock's first byte).
broken="$work/broken.img"
cp --reflink=auto "$disk" "$broken"
offset=$((root_start * 512))
byte=$(od -An -tu1 -j "$offset" -N1 "$broken" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$broken" bs=1 seek="$offset" conv=notrunc status=none
boot broken "$broken"
wait_console broken 'device-mapper: verity: .*(data block [0-9]+ is corrupted|corrupt)' ||
    die "no dm-verity corruption error in ${timeout}s; see $work/broken-console.log"
say "broken: dm-verity refused the flipped byte after $(elapsed "$boot_started" "$EPOCHREALTIME")"
sleep 20
if grep -aqE 'kiosk-probe: (root|write)|Started kiosk.service' "$work/broken-console.log"; then
    die "the broken disk booted on (see $work/broken-console.log)"
fi
kill "$qemu_pid" 2> /dev/null || true
wait "$qemu_pid" 2> /dev/null || true
qemu_pid=""
say "broken: no root, no kiosk"
