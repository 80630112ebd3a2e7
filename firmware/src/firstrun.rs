//! Raspberry Pi OS before Trixie (Bookworm) has no cloud-init. What sets a
//! card up there at first boot is a script on the boot partition that
//! systemd runs from the kernel command line, the way Raspberry Pi Imager
//! does it: `cmdline.txt` gains `systemd.run=/boot/firmware/<script>
//! systemd.run_success_action=reboot systemd.unit=kernel-command-line.target`.
//!
//! sos-flash's script (`sos-edge-firstrun.sh`) sets the host name, the time
//! zone, the clinic's Wi-Fi (NetworkManager, which Bookworm uses), the
//! installer's SSH key and the cloud's CA; installs
//! `sos-edge-first-boot.service`, which runs `sos-edge-first-boot.sh` (the
//! same script as on cloud-init images) at every boot until it has
//! finished once; takes itself out of `cmdline.txt`; erases itself (it
//! holds the Wi-Fi passphrase); and lets systemd reboot. Every step can run
//! again: a power cut before `cmdline.txt` is cleaned runs it all again,
//! after it the unit carries on. *Decision:* the boot partition is at
//! `/boot/firmware`, as on Bookworm; Bullseye (at `/boot`) is not a target.

use crate::bundle::Bundle;
use crate::inspect::PREFIX;

/// Where the running system has the boot partition.
pub const BOOT_DIR: &str = "/boot/firmware";
/// The script's name in the boot partition's root.
pub fn script_name() -> String {
    format!("{PREFIX}firstrun.sh")
}

/// The kernel command-line words sos-flash adds (and the script removes).
fn run_words() -> [String; 3] {
    [
        format!("systemd.run={BOOT_DIR}/{}", script_name()),
        "systemd.run_success_action=reboot".into(),
        "systemd.unit=kernel-command-line.target".into(),
    ]
}

/// `cmdline.txt` with the script to run: the base's words kept in order,
/// an earlier `systemd.run` (another tool's, or ours from a card flashed
/// before) replaced, and the Wi-Fi's regulatory domain set when the bundle
/// has Wi-Fi (as Imager does; it stays).
pub fn cmdline(existing: &str, b: &Bundle) -> String {
    let mut words: Vec<String> = existing
        .split_whitespace()
        .filter(|w| {
            !(w.starts_with("systemd.run=")
                || w.starts_with("systemd.run_success_action=")
                || w.starts_with("systemd.run_failure_action=")
                || *w == "systemd.unit=kernel-command-line.target"
                || (b.wifi.is_some() && w.starts_with("cfg80211.ieee80211_regdom=")))
        })
        .map(str::to_string)
        .collect();
    if let Some(w) = &b.wifi {
        words.push(format!("cfg80211.ieee80211_regdom={}", w.country));
    }
    words.extend(run_words());
    // One line, as the firmware reads it.
    words.join(" ") + "\n"
}

/// Single-quoted for sh.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A GKeyFile value (NetworkManager's keyfiles): backslash escapes.
fn keyfile(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            ' ' if i == 0 => out.push_str(r"\s"),
            c => out.push(c),
        }
    }
    out
}

/// The script, with the bundle's values in it.
pub fn script(b: &Bundle, connection_uuid: &str) -> String {
    let mut s = format!(
        r#"#!/bin/sh
# Written by sos-flash for an SOS Edge box (Raspberry Pi OS before Trixie).
# systemd runs it once from cmdline.txt, before the normal boot: it sets
# the box up, hands the rest to sos-edge-first-boot.service, takes itself
# out of cmdline.txt and erases itself; systemd then reboots. Each step
# can run again after a power cut.
set -u
BOOT={boot}
HOST={host}
TZONE={tz}
log() {{ echo "sos-edge firstrun: $*" > /dev/console 2>/dev/null || true; }}

log "host name $HOST, time zone $TZONE"
echo "$HOST" > /etc/hostname
if grep -q '^127\.0\.1\.1' /etc/hosts; then
    sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$HOST/" /etc/hosts
else
    printf '127.0.1.1\t%s\n' "$HOST" >> /etc/hosts
fi
ln -sf "/usr/share/zoneinfo/$TZONE" /etc/localtime
echo "$TZONE" > /etc/timezone
"#,
        boot = BOOT_DIR,
        host = sh(&b.hostname),
        tz = sh(&b.timezone),
    );
    if let Some(w) = &b.wifi {
        let connection = format!(
            "[connection]\nid=sos-edge-wifi\nuuid={connection_uuid}\ntype=wifi\ninterface-name=wlan0\nautoconnect=true\n\n\
             [wifi]\nmode=infrastructure\nssid={}\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk={}\n\n\
             [ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n",
            keyfile(&w.ssid),
            keyfile(&w.psk)
        );
        s.push_str(&format!(
            r#"
log "Wi-Fi"
# The radio stays blocked until a country is set (the kernel command line
# has it now); unblock it for this boot and the next.
rfkill unblock wifi 2>/dev/null || true
for f in /var/lib/systemd/rfkill/*:wlan; do [ -e "$f" ] && echo 0 > "$f"; done
install -d -m 0700 /etc/NetworkManager/system-connections
umask 077
cat > /etc/NetworkManager/system-connections/sos-edge-wifi.nmconnection <<'SOS_EDGE_WIFI'
{connection}SOS_EDGE_WIFI
chmod 0600 /etc/NetworkManager/system-connections/sos-edge-wifi.nmconnection
umask 022
"#
        ));
    }
    if let Some(k) = &b.ssh_authorized_key {
        s.push_str(&format!(
            r#"
log "installer account for SSH (key only)"
id installer >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo installer
passwd -l installer >/dev/null 2>&1 || true
install -d -m 0700 -o installer -g installer /home/installer/.ssh
echo {key} > /home/installer/.ssh/authorized_keys
chown installer:installer /home/installer/.ssh/authorized_keys
chmod 0600 /home/installer/.ssh/authorized_keys
echo 'installer ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/010-sos-edge-installer
chmod 0440 /etc/sudoers.d/010-sos-edge-installer
sed -i 's/^#\?PasswordAuthentication.*/PasswordAuthentication no/' /etc/ssh/sshd_config 2>/dev/null || true
systemctl enable ssh >/dev/null 2>&1 || true
# A user exists: no first-boot wizard asking for one on the console.
systemctl disable userconfig.service >/dev/null 2>&1 || true
systemctl enable getty@tty1.service >/dev/null 2>&1 || true
"#,
            key = sh(k)
        ));
    }
    if let Some(c) = &b.cloud_ca {
        s.push_str(&format!(
            r#"
log "the cloud's certificate authority"
cat > /usr/local/share/ca-certificates/sos-edge-cloud.crt <<'SOS_EDGE_CA'
{ca}
SOS_EDGE_CA
update-ca-certificates >/dev/null 2>&1 || true
"#,
            ca = c.trim_end()
        ));
    }
    s.push_str(&format!(
        r#"
log "installing the first-boot unit"
cat > /etc/systemd/system/sos-edge-first-boot.service <<'SOS_EDGE_UNIT'
[Unit]
Description=SOS Edge first boot (installs the box and hands it its set-up token)
ConditionPathExists=!/var/lib/sos-edge/.first-boot-done
ConditionPathExists={boot}/sos-edge-first-boot.sh
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/sh {boot}/sos-edge-first-boot.sh

[Install]
WantedBy=multi-user.target
SOS_EDGE_UNIT
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/sos-edge-first-boot.service /etc/systemd/system/multi-user.target.wants/sos-edge-first-boot.service

log "done; rebooting into the box"
# Out of cmdline.txt first, then erase this script (it holds the Wi-Fi
# passphrase): the other order would leave a boot that runs nothing.
sed -i 's| systemd\.run=[^ ]*||g; s| systemd\.run_success_action=[^ ]*||g; s| systemd\.run_failure_action=[^ ]*||g; s| systemd\.unit=kernel-command-line\.target||g' "$BOOT/cmdline.txt"
sync
shred -f -z -n 1 -u "$0" 2>/dev/null || rm -f "$0"
sync
exit 0
"#,
        boot = BOOT_DIR
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_keyfile_escapes() {
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(keyfile(r" a\b"), r"\sa\\b");
    }
}
