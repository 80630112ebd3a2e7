//! Whether phones on the clinic's network find the box by the name of its
//! certificate from the cloud. The name is published in the cloud's DNS,
//! pointing at the box's LAN address; a clinic router with "DNS rebinding
//! protection" drops such answers, and then a phone sent to the name would
//! find nothing. So the box asks the DNS the clinic's devices use (the
//! system's, from `/etc/resolv.conf`, which DHCP gives the box as it gives
//! the phones; or `--dns-server`) and moves phones to HTTPS only once the
//! name resolves to one of its own addresses.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

pub struct NameCheck {
    resolver: Result<TokioResolver, String>,
}

impl NameCheck {
    /// Asks `server` if given, else the system's DNS.
    pub fn new(server: Option<SocketAddr>) -> NameCheck {
        let resolver = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
                .build()
            }
            None => TokioResolver::builder_tokio().and_then(|b| b.build()),
        };
        NameCheck {
            resolver: resolver.map_err(|e| format!("the box cannot read its DNS settings ({e})")),
        }
    }

    /// `Ok` when `name` resolves to an address of this box; else why not,
    /// in words for the front desk.
    pub async fn check(&self, name: &str) -> Result<(), String> {
        let resolver = self.resolver.as_ref().map_err(Clone::clone)?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let found: Vec<IpAddr> = match resolver.lookup_ip(fqdn.as_str()).await {
            Ok(l) => l.iter().collect(),
            Err(e) => {
                return Err(format!(
                    "this network's DNS does not resolve {name} ({e}); a router with DNS rebinding protection drops such answers: allow the edge domain there"
                ));
            }
        };
        if found.iter().any(|ip| is_mine(*ip)) {
            return Ok(());
        }
        let list: Vec<String> = found.iter().map(IpAddr::to_string).collect();
        Err(format!(
            "{name} resolves to {}, which is not this box",
            list.join(", ")
        ))
    }
}

/// An address of this machine: one it can bind to.
fn is_mine(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}
