#!/bin/bash
# The kiosk machine proven by booting it: two `--format disk` builds of a profile extending
# profiles/kiosk-machine.toml (the second one's page has other colours and a later epoch), the
# first one's disk booted under QEMU with OVMF (UEFI -> systemd-boot -> the UKI -> dm-verity
# root -> tmpfs overlay -> the kiosk), the second one's update bundle written to slot B from
# inside the running machine, a broken slot B falling back to slot A, and the intact slot B
# booting the new page.
#
#     sudo tests/live/machine-boot.sh OUTDIR
#
# 1. builds debroot and, with it, the disk A (`-o a.img`) and the update B (`-o b.img`, of which
#    only b.img.update/ is kept; SOURCE_DATE_EPOCH one day after A's, so its UKI is newer), from
#    profiles whose kiosk URL is a page this script serves on the host's loopback (QEMU's user
#    network shows it to the guest as 10.0.2.2) and whose wayvnc listens on every address (the
#    VNC port is forwarded: hostfwd 127.0.0.1:VNC_PORT -> guest 5900); the two pages differ in
#    their colours;
# 2. run "first", disk A with the bundle B as a second, read-only virtio disk: a test-only unit,
#    handed to the guest's systemd as SMBIOS credentials (systemd.extra-unit.*; nothing of it
#    is in the image, and the image has no root login), prints to the serial console the
#    device-mapper devices (name, uuid, read-only flag), what / is, the roothash= booted and
#    whether a marker file exists, then writes it. The test requires root = dm-verity
#    (CRYPT-VERITY-*, ro=1) squashfs under an overlay, slot A's root hash, the marker absent,
#    the write done. A second test unit, after systemd-bless-boot, runs the image's own
#    `kiosk-update --tries 1` on the bundle. Page A is read over VNC (rfb_capture.py, as
#    kiosk-smoke.sh does), then the guest is powered off (ACPI). On the ESP (mtools): slot A's
#    UKI blessed (kiosk_A.efi), slot B's waiting with one try (kiosk_B+1.efi);
# 3. run "fallback", a copy of that disk with the first byte of root-b flipped: systemd-boot
#    tries slot B, dm-verity refuses the block (the console shows the corruption error), the
#    machine restarts (restart-on-corruption), systemd-boot falls back to slot A: the probe
#    reports slot A's root hash and page A shows over VNC; slot B's UKI is marked bad
#    (kiosk_B+0-1.efi);
# 4. run "updated", the intact disk of run 2 ("first"): slot B boots, blessed (kiosk_B.efi):
#    its root hash, the marker of run "first" gone, page B over VNC; the slots' bytes are
#    unchanged by the boot.
# Skips (exit 77, saying why) where QEMU or OVMF is missing, or the accelerator cannot run the
# firmware: with MACHINE_BOOT_ACCEL=kvm (the default), /dev/kvm is probed with ten seconds of
# OVMF (a paravirtual KVM inside a VM, kvm-pvm, stops at its first x87 instruction);
# MACHINE_BOOT_ACCEL=tcg runs the whole test emulated (slow), MACHINE_BOOT_ACCEL=auto takes KVM
# where the probe passes and TCG elsewhere.
# Settings (environment): MACHINE_BOOT_CACHE_DIR (debroot's cache, default OUTDIR/cache),
# MACHINE_BOOT_DISK and MACHINE_BOOT_UPDATE (reuse a built disk A and bundle B: skips the
# builds), MACHINE_BOOT_ACCEL (kvm|tcg|auto), MACHINE_BOOT_TIMEOUT (per boot; 300 with KVM,
# 1500 with TCG), MACHINE_BOOT_HTTP_PORT (18081), MACHINE_BOOT_VNC_PORT (15901).
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
case "$accel" in kvm | tcg | auto) ;; *) echo "MACHINE_BOOT_ACCEL=$accel is not kvm, tcg or auto" >&2; exit 2 ;; esac
python=/usr/bin/python3
[ -x "$python" ] || python=python3
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
colours_a=(d02020 20a040 2040d0 f0c020 20c0c0 a020a0)
colours_b=(20c0c0 a020a0 f0c020 2040d0 d02020 20a040)
resolution=1280x800

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "machine-boot: $*" >&2; }
die() { say "error: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 > /dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -r "$ovmf_code" ] && [ -r "$ovmf_vars" ] || skip "OVMF is not installed ($ovmf_code; apt-get install ovmf)"
for command in sfdisk sha256sum mdir mksquashfs cargo "$python"; do
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
# kvm_runs_firmware: can KVM run the firmware at all? Some nested or paravirtual KVMs (kvm-pvm)
# stop in OVMF's first instructions with an internal error. Ten seconds of the firmware tell.
kvm_runs_firmware() {
    [ -w /dev/kvm ] || { kvm_why="/dev/kvm is missing or not writable"; return 1; }
    cp "$ovmf_vars" "$work/probe-vars.fd"
    timeout 10 qemu-system-x86_64 -enable-kvm -cpu host -machine q35 -m 256 -nodefaults \
        -display none -serial none -monitor none \
        -drive if=pflash,format=raw,readonly=on,file="$ovmf_code" \
        -drive if=pflash,format=raw,file="$work/probe-vars.fd" \
        < /dev/null > "$work/probe-qemu.log" 2>&1 || true
    if grep -aq "KVM internal error" "$work/probe-qemu.log"; then
        kvm_why="KVM cannot run the UEFI firmware here ($(grep -a -m1 'KVM internal error' "$work/probe-qemu.log"))"
        return 1
    fi
}
case "$accel" in
    kvm) kvm_runs_firmware || skip "$kvm_why; MACHINE_BOOT_ACCEL=tcg emulates, slowly" ;;
    auto) if kvm_runs_firmware; then accel=kvm; else say "$kvm_why: emulating (TCG)"; accel=tcg; fi ;;
esac
case "$accel" in
    kvm) timeout="${MACHINE_BOOT_TIMEOUT:-300}" ;;
    tcg) timeout="${MACHINE_BOOT_TIMEOUT:-1500}" ;;
esac

# --- build -----------------------------------------------------------------------------------
# profile NAME PAGE: a profile extending kiosk-machine whose kiosk shows the served PAGE.
profile() {
    cat > "$work/profile/$1.toml" << PROFILE
# The live machine test's profile, written by tests/live/machine-boot.sh.
extends = "$repo/profiles/kiosk-machine.toml"

[build.env]
KIOSK_URL = "http://10.0.2.2:$http_port/$2"
WAYVNC_ADDRESS = "0.0.0.0"
WAYVNC_PORT = "5900"
KIOSK_RESOLUTION = "$resolution"
PROFILE
}
# version_of BUNDLE: the VERSION of the bundle's kiosk_VERSION.efi (the build's epoch).
version_of() {
    local ukis=("$1"/kiosk_*.efi)
    [ "${#ukis[@]}" -eq 1 ] && [ -f "${ukis[0]}" ] || die "not exactly one kiosk_*.efi in $1"
    local name=${ukis[0]##*/kiosk_}
    echo "${name%.efi}"
}
if [ -n "${MACHINE_BOOT_DISK:-}" ]; then
    [ -n "${MACHINE_BOOT_UPDATE:-}" ] || die "MACHINE_BOOT_DISK needs MACHINE_BOOT_UPDATE (the bundle B)"
    image_a=$MACHINE_BOOT_DISK
    update_a=$MACHINE_BOOT_DISK.update
    update_b=$MACHINE_BOOT_UPDATE
    say "using the built disk $image_a and the bundle $update_b"
else
    say "building debroot (cargo build --release)"
    (cd "$repo" && cargo build --release --quiet)
    debroot="$repo/target/release/debroot"
    profile a a.html
    profile b b.html
    image_a="$work/a.img"
    update_a="$image_a.update"
    update_b="$work/b.img.update"
    build_started=$EPOCHREALTIME
    "$debroot" build "$work/profile/a.toml" -o "$image_a" --cache-dir "$cache" 2>&1 |
        tee "$work/build-a.log" >&2
    say "build A: $(elapsed "$build_started" "$EPOCHREALTIME")"
    build_started=$EPOCHREALTIME
    SOURCE_DATE_EPOCH=$(($(version_of "$update_a") + 86400)) \
        "$debroot" build "$work/profile/b.toml" -o "$work/b.img" --cache-dir "$cache" 2>&1 |
        tee "$work/build-b.log" >&2
    rm -f "$work/b.img"
    say "build B: $(elapsed "$build_started" "$EPOCHREALTIME")"
fi
version_a=$(version_of "$update_a")
version_b=$(version_of "$update_b")
root_hash_a=$(cat "$update_a/roothash")
root_hash_b=$(cat "$update_b/roothash")
[ "$version_b" -gt "$version_a" ] || die "the update B ($version_b) is not newer than A ($version_a)"
[ "$root_hash_a" != "$root_hash_b" ] || die "A and B have the same root"

# The bundle B as a read-only disk for the guest: an uncompressed squashfs of the folder.
mksquashfs "$update_b" "$work/bundle.sqfs" -noappend -no-xattrs -noI -noD -noF -noX -quiet > /dev/null

# --- the disk --------------------------------------------------------------------------------
disk="$work/disk.img"
cp --reflink=auto "$image_a" "$disk"
# part_start DISK LABEL_PREFIX: the first sector of the partition whose label starts so.
part_start() {
    sfdisk -J "$1" | "$python" -c 'import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    if p.get("name", "").startswith(sys.argv[1]):
        print(p["start"]); break' "$2"
}
esp_start=$(part_start "$disk" ESP)
[ -n "$esp_start" ] || die "$image_a has no partition labelled ESP"
esp_offset=$((esp_start * 512))
# esp_ukis DISK: the UKIs on the disk's ESP, one a line, sorted.
esp_ukis() { MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@$esp_offset" ::/EFI/Linux | sed 's|.*/||' | LC_ALL=C sort; }
# slots_sha256 DISK: the SHA-256 of everything after the ESP (both slots).
slots_sha256() { tail -c +$(($(part_start "$1" root-a) * 512 + 1)) "$1" | sha256sum | cut -d' ' -f1; }
esp_ukis "$disk" | grep -qx "kiosk_$version_a+3.efi" || die "disk A's ESP holds no kiosk_$version_a+3.efi: $(esp_ukis "$disk" | tr '\n' ' ')"

# --- the test-only units, as SMBIOS credentials ----------------------------------------------
probe_unit='[Unit]
Description=debroot machine-boot test probe (injected by SMBIOS credential)
After=local-fs.target systemd-tmpfiles-setup.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c '"'"'for d in /sys/block/dm-*; do echo "kiosk-probe: dm name=$$(cat $$d/dm/name) uuid=$$(cat $$d/dm/uuid) ro=$$(cat $$d/ro)"; done'"'"'
ExecStart=/bin/sh -c '"'"'echo "kiosk-probe: root $$(findmnt -n -o FSTYPE,OPTIONS /)"'"'"'
ExecStart=/bin/sh -c '"'"'echo "kiosk-probe: rootfs $$(blkid -o value -s TYPE /dev/mapper/root)"'"'"'
ExecStart=/bin/sh -c '"'"'echo "kiosk-probe: booted $$(tr " " "\\n" < /proc/cmdline | grep ^roothash=)"'"'"'
ExecStart=/bin/sh -c '"'"'if [ -e /var/lib/kiosk-probe/marker ]; then echo "kiosk-probe: marker present"; else echo "kiosk-probe: marker absent"; fi; mkdir -p /var/lib/kiosk-probe && echo written > /var/lib/kiosk-probe/marker && sync && echo "kiosk-probe: write $$(cat /var/lib/kiosk-probe/marker)"'"'"'
'
# After systemd-bless-boot (boot counting has marked this boot good), the image's own
# kiosk-update writes the bundle disk (serial kiosk-bundle) to the inactive slot.
update_unit='[Unit]
Description=debroot machine-boot test: kiosk-update from the bundle disk (injected by SMBIOS credential)
After=kiosk-probe.service systemd-bless-boot.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c '"'"'for i in $$(seq 60); do [ -e /dev/disk/by-id/virtio-kiosk-bundle ] && break; sleep 1; done; mkdir -p /run/kiosk-bundle && mount -o ro /dev/disk/by-id/virtio-kiosk-bundle /run/kiosk-bundle && /usr/sbin/kiosk-update --tries 1 /run/kiosk-bundle && echo "kiosk-probe: update done" || echo "kiosk-probe: update failed"'"'"'
'
dropin='[Unit]
Wants=kiosk-probe.service
'
update_dropin='[Unit]
Wants=kiosk-probe.service kiosk-probe-update.service
'
b64() { printf '%s' "$1" | base64 -w0; }
smbios=(
    -smbios "type=11,value=io.systemd.credential.binary:systemd.extra-unit.kiosk-probe.service=$(b64 "$probe_unit")"
    -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.multi-user.target~kiosk-probe=$(b64 "$dropin")"
)
smbios_update=(
    -smbios "type=11,value=io.systemd.credential.binary:systemd.extra-unit.kiosk-probe.service=$(b64 "$probe_unit")"
    -smbios "type=11,value=io.systemd.credential.binary:systemd.extra-unit.kiosk-probe-update.service=$(b64 "$update_unit")"
    -smbios "type=11,value=io.systemd.credential.binary:systemd.unit-dropin.multi-user.target~kiosk-probe=$(b64 "$update_dropin")"
)

# --- the pages -------------------------------------------------------------------------------
# page NAME COLOUR...: a 3x2 grid of solid blocks.
page() {
    local name=$1 blocks="" colour
    shift
    for colour in "$@"; do blocks="$blocks<div style=\"background:#$colour\"></div>"; done
    cat > "$work/www/$name" << HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>debroot machine boot test</title>
<style>
html, body { margin: 0; width: 100%; height: 100%; overflow: hidden; }
body { display: grid; grid-template-columns: repeat(3, 1fr); grid-template-rows: repeat(2, 1fr); }
</style></head>
<body>$blocks</body></html>
HTML
}
page a.html "${colours_a[@]}"
page b.html "${colours_b[@]}"
"$python" -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/www" > "$work/http.log" 2>&1 &
http_pid=$!

# --- boot ------------------------------------------------------------------------------------
# boot NAME DISK [QEMU ARGS...]: starts QEMU in the background (OVMF with its own variables,
# the disk, user networking with the VNC port forwarded, serial console to NAME-console.log, a
# monitor socket for ACPI power-off). A reboot of the guest stays in the same QEMU.
boot() {
    local name=$1 disk=$2
    shift 2
    cp "$ovmf_vars" "$work/$name-vars.fd"
    rm -f "$work/$name-monitor.sock"
    # Emulated, the CPU is x86-64-v2 (SSE4.2, no AVX): with `-cpu max`, QEMU 7.2's TCG (Debian
    # 12's) offers AVX/AVX2, and chromium's network service crashes over and over on it (seen:
    # "Network service crashed or was terminated", the page never requested).
    local cpu=(-cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16)
    [ "$accel" = tcg ] || cpu=(-cpu host)
    boot_started=$EPOCHREALTIME
    qemu-system-x86_64 -machine q35,accel="$accel" "${cpu[@]}" -smp 2 -m 2048 \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
        -drive if=pflash,format=raw,unit=1,file="$work/$name-vars.fd" \
        -drive if=none,id=disk,format=raw,file="$disk" -device virtio-blk-pci,drive=disk,bootindex=0 \
        "$@" \
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
        kill -0 "$qemu_pid" 2> /dev/null ||
            die "QEMU exited during $name; see $work/$name-qemu.log and $work/$name-console.log"
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

# check_boot NAME ROOT_HASH: the probe's report: slot ROOT_HASH's verity root, read-only,
# squashfs under a tmpfs overlay, no marker from an earlier boot, the write done.
check_boot() {
    local name=$1 root_hash=$2
    wait_console "$name" 'kiosk-probe: write ' || die "no probe report in ${timeout}s; see $work/$name-console.log"
    say "$name: probe report after $(elapsed "$boot_started" "$EPOCHREALTIME"):"
    probe_lines "$name" | sed 's/^/    /' >&2
    probe_lines "$name" | grep -qE '^dm name=root uuid=CRYPT-VERITY-[^ ]+ ro=1$' ||
        die "$name: the root device is not a read-only dm-verity device named root"
    probe_lines "$name" | grep -qE '^root overlay ' || die "$name: / is not an overlay"
    probe_lines "$name" | grep -qE '^root overlay .*lowerdir=/sysroot[,]' ||
        die "$name: the overlay's lower layer is not the initramfs's /sysroot"
    probe_lines "$name" | grep -qx 'rootfs squashfs' ||
        die "$name: the root under the overlay is not the squashfs of /dev/mapper/root"
    probe_lines "$name" | grep -qx "booted roothash=$root_hash" ||
        die "$name: the boot is not of root $root_hash"
    probe_lines "$name" | grep -qx 'marker absent' || die "$name: a marker written by an earlier boot is there"
    probe_lines "$name" | grep -qx 'write written' || die "$name: the write to the overlay failed"
}

# check_page NAME COLOUR...: the page of those colours over the guest's wayvnc.
check_page() {
    local name=$1
    shift
    if ! "$python" "$here/rfb_capture.py" --port "$vnc_port" --size "$resolution" --grid 3x2 \
        --colours "$(IFS=,; echo "$*")" --png "$outdir/machine-$name.png" \
        --timeout "$((boot_deadline - SECONDS))"; then
        die "$name: the kiosk never showed its page; the last frame is $outdir/machine-$name.png"
    fi
    say "$name: boot to the page over VNC: $(elapsed "$boot_started" "$EPOCHREALTIME")"
}

# check_ukis NAME DISK UKI...: the ESP holds exactly these UKIs.
check_ukis() {
    local name=$1 disk=$2
    shift 2
    local want got
    want=$(printf '%s\n' "$@" | LC_ALL=C sort)
    got=$(esp_ukis "$disk")
    [ "$got" = "$want" ] || die "$name: the ESP holds $(echo $got), not $(echo $want)"
    say "$name: the ESP holds $(echo $got)"
}

# Run "first": slot A; the write; the update written to slot B from inside; page A.
boot first "$disk" -drive if=none,id=bundle,format=raw,readonly=on,file="$work/bundle.sqfs" \
    -device virtio-blk-pci,drive=bundle,serial=kiosk-bundle "${smbios_update[@]}"
check_boot first "$root_hash_a"
wait_console first 'kiosk-probe: update (done|failed)' || die "first: kiosk-update did not end in ${timeout}s"
grep -a 'kiosk-update: ' "$work/first-console.log" | sed 's/\r$//; s/^/    /' >&2
probe_lines first | grep -qx 'update done' || die "first: kiosk-update failed; see $work/first-console.log"
check_page first "${colours_a[@]}"
poweroff first
check_ukis first "$disk" "kiosk_$version_a.efi" "kiosk_$version_b+1.efi"

# Run "fallback": slot B broken (its squashfs superblock's first byte flipped).
broken="$work/broken.img"
cp --reflink=auto "$disk" "$broken"
offset=$(($(part_start "$broken" root-b) * 512))
byte=$(od -An -tu1 -j "$offset" -N1 "$broken" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$broken" bs=1 seek="$offset" conv=notrunc status=none
boot fallback "$broken" "${smbios[@]}"
wait_console fallback 'device-mapper: verity: .*(data block [0-9]+ is corrupted|corrupt)' ||
    die "fallback: no dm-verity corruption error in ${timeout}s; see $work/fallback-console.log"
say "fallback: dm-verity refused the flipped byte of slot B after $(elapsed "$boot_started" "$EPOCHREALTIME")"
check_boot fallback "$root_hash_a"
check_page fallback "${colours_a[@]}"
poweroff fallback
check_ukis fallback "$broken" "kiosk_$version_a.efi" "kiosk_$version_b+0-1.efi"
rm -f "$broken"

# Run "updated": the intact slot B.
slots=$(slots_sha256 "$disk")
boot updated "$disk" "${smbios[@]}"
check_boot updated "$root_hash_b"
check_page updated "${colours_b[@]}"
# systemd-bless-boot runs after boot-complete.target; give it the rest of the boot's time.
until esp_ukis "$disk" | grep -qx "kiosk_$version_b.efi"; do
    [ "$SECONDS" -lt "$boot_deadline" ] || break
    sleep 2
done
poweroff updated
check_ukis updated "$disk" "kiosk_$version_a.efi" "kiosk_$version_b.efi"
[ "$(slots_sha256 "$disk")" = "$slots" ] || die "updated: the slots changed: a write reached the disk"
say "updated: slot B booted and was blessed; the slots' bytes are unchanged by the boot"
# The disks and the bundles are gigabytes: gone when the test passed (kept when it failed).
rm -f "$disk" "$work/bundle.sqfs" "$work/a.img"
rm -rf "$work/a.img.update" "$work/b.img.update"
