#!/bin/sh
# SOS Edge first boot, run once by cloud-init (user-data's runcmd) from the
# boot partition that sos-flash wrote. It installs the appliance's package,
# hands the one-time token to the appliance's data directory, takes the
# token off the boot partition, and starts the service, which enrolls with
# the cloud (waiting for the network) at its first start.
#
# Safe to cut at any point: each step checks what is already done, and the
# marker is written last. The token moves, never copies: it is in the data
# directory (read only by the sos-edge user) before it leaves the card.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=/var/lib/sos-edge
MARK="$DATA/.first-boot-done"
log() { echo "sos-edge first boot: $*" | systemd-cat -t sos-edge-first-boot 2>/dev/null || echo "sos-edge first boot: $*" >&2; }

[ -e "$MARK" ] && { log "already done"; exit 0; }

if ! dpkg-query -W -f='${Status}' sos-appliance 2>/dev/null | grep -q "install ok installed"; then
    log "installing the package"
    dpkg -i "$HERE/sos-edge-sos-appliance.deb" || { apt-get -y -f install && dpkg -i "$HERE/sos-edge-sos-appliance.deb"; }
fi

install -d -m 0700 -o sos-edge -g sos-edge "$DATA"
if [ -f "$HERE/sos-edge-provision.json" ]; then
    if [ ! -f "$DATA/cloud.json" ] && [ ! -f "$DATA/provision.json" ]; then
        install -m 0600 -o sos-edge -g sos-edge "$HERE/sos-edge-provision.json" "$DATA/provision.json.new"
        sync
        mv "$DATA/provision.json.new" "$DATA/provision.json"
        sync
    fi
    # Off the card: the token and the bundle that holds it (and the Wi-Fi
    # passphrase).
    rm -f "$HERE/sos-edge-provision.json" "$HERE/sos-edge-bundle.toml"
    sync
fi

systemctl enable --now sos-appliance.service
touch "$MARK"
sync
log "done; the box enrolls with its cloud as it starts"
