//! mDNS (crate mdns-sd): the box advertises itself and keeps a live list of
//! the Cast devices on its network.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use mdns_sd::{IfKind, IfPredicate, ResolvedService, ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::Serialize;

use crate::MdnsError;

pub const GOOGLECAST: &str = "_googlecast._tcp.local.";
pub const HTTP: &str = "_http._tcp.local.";
pub const SOS_EDGE: &str = "_sos-edge._tcp.local.";

/// A Cast device as last announced on the network.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Device {
    /// The device's `id` TXT record (stable across address changes), or
    /// its mDNS instance name when the record is missing.
    pub id: String,
    /// Friendly name (`fn`), e.g. "Lobby TV".
    pub name: String,
    /// Model (`md`), e.g. "Chromecast".
    pub model: String,
    pub address: IpAddr,
    pub port: u16,
    #[serde(skip)]
    pub fullname: String,
    pub seen_at_ms: i64,
}

/// Interface names that are never the clinic LAN.
pub fn is_virtual(name: &str) -> bool {
    name == "lo"
        || [
            "docker", "br-", "veth", "virbr", "cni", "flannel", "podman", "vmnet", "lxc",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Starts a daemon limited to `interfaces` (by name), or to every
/// interface except loopback and docker-like ones when none are given.
pub fn daemon(interfaces: &[String]) -> Result<ServiceDaemon, MdnsError> {
    let d = ServiceDaemon::new().map_err(|e| MdnsError(e.to_string()))?;
    let m = |e: mdns_sd::Error| MdnsError(e.to_string());
    d.disable_interface(IfKind::All).map_err(m)?;
    if interfaces.is_empty() {
        d.enable_interface(IfKind::Predicate(IfPredicate::new(|i| {
            !i.is_loopback() && !is_virtual(&i.name)
        })))
        .map_err(m)?;
    } else {
        let kinds: Vec<IfKind> = interfaces.iter().map(|n| IfKind::Name(n.clone())).collect();
        d.enable_interface(kinds).map_err(m)?;
    }
    Ok(d)
}

/// `Bright Smile Dental` → `bright-smile-dental`.
pub fn slug(name: &str) -> String {
    let ascii = deunicode::deunicode(name).to_lowercase();
    let mut out = String::new();
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_end_matches('-').chars().take(40).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "clinic".into() } else { out }
}

/// What the box says about itself on the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Advert {
    pub practice_name: String,
    pub box_id: String,
    pub version: String,
    /// "open" when no TV is paired yet, otherwise "paired".
    pub pairing: String,
    pub tvs: usize,
    pub port: u16,
}

impl Advert {
    pub fn host(&self) -> String {
        format!("{}-sos.local.", slug(&self.practice_name))
    }

    fn instance(&self) -> String {
        let n: String = self
            .practice_name
            .chars()
            .filter(|c| !c.is_control() && *c != '.')
            .take(50)
            .collect();
        if n.trim().is_empty() {
            "SOS Edge".into()
        } else {
            format!("{} SOS Edge", n.trim())
        }
    }

    pub fn services(&self) -> Result<Vec<ServiceInfo>, MdnsError> {
        let tvs = self.tvs.to_string();
        let txt = [
            ("practice", self.practice_name.as_str()),
            ("box", self.box_id.as_str()),
            ("version", self.version.as_str()),
            ("pairing", self.pairing.as_str()),
            ("tvs", tvs.as_str()),
            ("path", "/"),
        ];
        let mut out = Vec::new();
        for ty in [HTTP, SOS_EDGE] {
            let info =
                ServiceInfo::new(ty, &self.instance(), &self.host(), "", self.port, &txt[..])
                    .map_err(|e| MdnsError(e.to_string()))?
                    .enable_addr_auto();
            out.push(info);
        }
        Ok(out)
    }
}

/// The live list of Cast devices.
#[derive(Default)]
pub struct Devices {
    map: Mutex<BTreeMap<String, Device>>,
}

/// What a resolved announcement changed.
#[derive(Debug, PartialEq)]
pub enum Change {
    Appeared(Device),
    Moved(Device),
    Same,
    Ignored(String),
}

impl Devices {
    pub fn list(&self) -> Vec<Device> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<Device> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id).cloned()
    }

    /// Applies one resolved `_googlecast._tcp` announcement.
    pub fn resolved(&self, r: &ResolvedService, now_ms: i64) -> Change {
        let device = match device_of(r, now_ms) {
            Ok(d) => d,
            Err(why) => return Change::Ignored(why),
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // The same device may re-announce under another instance name.
        map.retain(|id, d| id == &device.id || d.fullname != device.fullname);
        match map.insert(device.id.clone(), device.clone()) {
            None => Change::Appeared(device),
            Some(old) if old.address != device.address || old.port != device.port => {
                Change::Moved(device)
            }
            Some(_) => Change::Same,
        }
    }

    /// A device said goodbye (or its records expired).
    pub fn removed(&self, fullname: &str) -> Option<Device> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let id = map
            .iter()
            .find(|(_, d)| d.fullname == fullname)
            .map(|(k, _)| k.clone())?;
        map.remove(&id)
    }
}

fn txt(r: &ResolvedService, key: &str) -> Option<String> {
    let v = r.get_property_val_str(key)?;
    let v: String = v.chars().filter(|c| !c.is_control()).take(64).collect();
    let v = v.trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// Builds a device from an announcement; malformed TXT records fall back
/// to the instance name, a missing address or port is a clear refusal.
pub fn device_of(r: &ResolvedService, now_ms: i64) -> Result<Device, String> {
    let instance = r
        .fullname
        .strip_suffix(&format!(".{}", r.ty_domain))
        .unwrap_or(&r.fullname)
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>();
    if r.port == 0 {
        return Err(format!("{instance}: announced port 0"));
    }
    let mut addrs: Vec<IpAddr> = r.get_addresses().iter().map(|a| a.to_ip_addr()).collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    let address = *addrs
        .first()
        .ok_or_else(|| format!("{instance}: announced no address"))?;
    let id = txt(r, "id")
        .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| instance.clone());
    if id.is_empty() {
        return Err("announcement without a name".into());
    }
    Ok(Device {
        name: txt(r, "fn").unwrap_or_else(|| instance.clone()),
        model: txt(r, "md").unwrap_or_default(),
        id,
        address,
        port: r.port,
        fullname: r.fullname.clone(),
        seen_at_ms: now_ms,
    })
}

pub fn is_cast_event(e: &ServiceEvent) -> bool {
    match e {
        ServiceEvent::ServiceResolved(r) => r.ty_domain == GOOGLECAST,
        ServiceEvent::ServiceRemoved(ty, _) => ty == GOOGLECAST,
        _ => false,
    }
}
