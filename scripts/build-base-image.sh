#!/usr/bin/env bash
# Builds, from nothing, the small Debian base image the boot test provisions
# and boots: what a Raspberry Pi OS (Trixie) or a Debian cloud image is to
# a real box, for x86_64 under QEMU. mmdebstrap makes the root file system
# from Debian's archive; mkfs.ext4 -d, mkfs.vfat, mtools and sfdisk make
# the disk without mounting anything:
#   p1  FAT32 "CIDATA", 512 MiB: the boot partition, mounted at
#       /boot/firmware; cloud-init's NoCloud seed lives here (the label is
#       how cloud-init finds it), with the image's placeholder seed
#   p2  ext4 "sos-root": Debian bookworm, systemd, cloud-init, the
#       libraries the appliance's package depends on
# QEMU boots the kernel directly (-kernel/-initrd, written beside the
# image), so the image needs no boot loader. The result is cached:
#   $SOS_BASE_IMAGE_DIR (default ~/.cache/sos-edge/base-image)/
#     base.img, vmlinuz, initrd.img, SHA256SUMS
# and rebuilt only when this script changes. Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${SOS_BASE_IMAGE_DIR:-$HOME/.cache/sos-edge/base-image}"
stamp="$(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/base.img" ]; then
    echo "$out"
    exit 0
fi

need=()
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
# The boot test forwards the guest's one allowed connection to the cloud with socat.
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)
command -v debugfs >/dev/null 2>&1 || [ -x /usr/sbin/debugfs ] || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "build-base-image: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}" >&2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "build-base-image: run as root (mmdebstrap's root mode keeps the files' owners)" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sos-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "build-base-image: Debian bookworm root file system (mmdebstrap)" >&2
# The boot test's image, not a product image: a virtio console carries the
# journal (the test reads the box's log and check-in link from it), the
# box's speech is off (/etc/sos-edge/environment: under TCG the lobby
# voice's start-up synthesis keeps both vCPUs busy for minutes; speech is
# tested natively), the
# journal is kept on disk (the test reads it back after power-off), and the
# root account has no password (no one can log in on a console nobody has).
mmdebstrap --variant=apt --mode=root --quiet \
    --include=systemd-sysv,udev,dbus,ca-certificates,linux-image-amd64,cloud-init,ifupdown,isc-dhcp-client,iproute2,netbase,tzdata,dosfstools,e2fsprogs,procps,libasound2,libstdc++6,passwd,kmod \
    --customize-hook='echo "LABEL=sos-root / ext4 defaults 0 1" > "$1/etc/fstab"' \
    --customize-hook='echo "LABEL=CIDATA /boot/firmware vfat defaults,umask=0077 0 2" >> "$1/etc/fstab"' \
    --customize-hook='mkdir -p "$1/boot/firmware" "$1/var/log/journal"' \
    --customize-hook='mkdir -p "$1/etc/systemd/journald.conf.d" && printf "[Journal]\nForwardToConsole=yes\nMaxLevelConsole=info\nTTYPath=/dev/hvc0\n" > "$1/etc/systemd/journald.conf.d/console.conf"' \
    --customize-hook='printf "datasource_list: [ NoCloud, None ]\n" > "$1/etc/cloud/cloud.cfg.d/90-sos-edge-test.cfg"' \
    --customize-hook='mkdir -p "$1/etc/sos-edge" && printf "# The boot test: no speech under emulation (see docs/installers.md)\nSOS_VOICE_OFF=true\nSOS_NO_LISTEN=true\n" > "$1/etc/sos-edge/environment"' \
    --customize-hook='echo "sos-base" > "$1/etc/hostname"' \
    --customize-hook='cp "$1"/boot/vmlinuz-* "$1/../vmlinuz" && cp "$1"/boot/initrd.img-* "$1/../initrd.img"' \
    bookworm "$root" http://deb.debian.org/debian

echo "build-base-image: the disk (sfdisk, mkfs.vfat, mkfs.ext4 -d)" >&2
boot_mib=512
root_mib=1535
img="$work/base.img"
truncate -s $(( (1 + boot_mib + root_mib) * 1024 * 1024 )) "$img"
sfdisk -q "$img" <<SFDISK
label: dos
start=2048, size=$(( boot_mib * 2048 )), type=c
start=$(( 2048 + boot_mib * 2048 )), type=83
SFDISK
mkfs.vfat -F 32 -n CIDATA -C "$work/boot.part" $(( boot_mib * 1024 )) >/dev/null
printf '#cloud-config\n# the base image'"'"'s placeholder; sos-flash writes the box'"'"'s own\n' > "$work/user-data"
printf 'instance-id: sos-base\n' > "$work/meta-data"
mcopy -i "$work/boot.part" "$work/user-data" "$work/meta-data" ::/
rm -rf "$root/boot/firmware"/* 
mkfs.ext4 -q -F -L sos-root -d "$root" "$work/root.part" "${root_mib}M"
dd if="$work/boot.part" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.part" of="$img" bs=1M seek=$(( 1 + boot_mib )) conv=notrunc,sparse status=none

mkdir -p "$out"
mv "$img" "$out/base.img"
mv "$work/vmlinuz" "$out/vmlinuz"
mv "$work/initrd.img" "$out/initrd.img"
(cd "$out" && sha256sum base.img vmlinuz initrd.img > SHA256SUMS)
echo "$stamp" > "$out/stamp"
echo "build-base-image: $(du -h --apparent-size "$out/base.img" | cut -f1) image in $out" >&2
echo "$out"
