#!/bin/sh
# SOS Edge first boot, from the boot partition sos-flash wrote. cloud-init
# runs it at every boot (user-data's bootcmd) until it has finished once,
# or, on a Raspberry Pi OS before Trixie, sos-edge-first-boot.service that
# sos-edge-firstrun.sh installed does:
# it installs the appliance's package, hands the one-time token to the
# appliance's data directory, erases the token from the boot partition,
# and enables and starts the service, which enrolls with the cloud
# (waiting for the network, retrying) at its first start.
#
# Safe to cut at any point: each step checks what is already done, dpkg's
# own interrupted work is finished first, the token moves (it is in the
# data directory, read only by the sos-edge user, before it leaves the
# card), and the marker is written last. (cloud-init's runcmd would not do:
# a run cut short is never repeated.)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=/var/lib/sos-edge
MARK="$DATA/.first-boot-done"
DEB="$HERE/sos-edge-sos-appliance.deb"
log() { echo "sos-edge first boot: $*" > /dev/console 2>/dev/null || true; echo "sos-edge first boot: $*" >&2; }

[ -e "$MARK" ] && exit 0

# A power cut in the middle of dpkg: let it finish what it started.
dpkg --configure -a || true
if ! dpkg-query -W -f='${Status}' sos-appliance 2>/dev/null | grep -q "install ok installed"; then
    log "installing the package"
    dpkg -i "$DEB"
fi

install -d -m 0700 -o sos-edge -g sos-edge "$DATA"
if [ -f "$HERE/sos-edge-provision.json" ]; then
    if [ ! -f "$DATA/cloud.json" ] && [ ! -f "$DATA/provision.json" ]; then
        install -m 0600 -o sos-edge -g sos-edge "$HERE/sos-edge-provision.json" "$DATA/provision.json.new"
        sync
        mv "$DATA/provision.json.new" "$DATA/provision.json"
        sync
    fi
    # Off the card, overwritten first: the token and the bundle that holds
    # it (and the Wi-Fi passphrase).
    log "erasing the set-up token from the boot partition"
    shred -f -z -n 1 -u "$HERE/sos-edge-provision.json"
    [ ! -f "$HERE/sos-edge-bundle.toml" ] || shred -f -z -n 1 -u "$HERE/sos-edge-bundle.toml"
    sync
fi
# The set-up script of a Raspberry Pi OS before Trixie holds the Wi-Fi
# passphrase; it erases itself, unless the power was cut just before.
[ ! -f "$HERE/sos-edge-firstrun.sh" ] || shred -f -z -n 1 -u "$HERE/sos-edge-firstrun.sh"
# Installed: the package's copy on the card is no longer needed.
rm -f "$DEB"

systemctl enable sos-appliance.service
# Not waiting: this runs inside cloud-init, before the network is up, and
# the service waits for the network itself.
systemctl start --no-block sos-appliance.service
touch "$MARK"
sync
log "done; the box enrolls with its cloud as it starts"
