//! Outbound policy: which addresses the collectors may connect to when an HPA annotation (a
//! json-path `endpoint`) or a flag chooses the host.
//!
//! Every HPA author is an untrusted tenant. Without a policy an annotation could make the
//! adapter fetch the EC2 instance metadata service (the node role's credentials), the adapter's
//! own admin port, or any loopback service. So:
//!
//! - Names are resolved by [`PolicyResolver`] and every resolved address is checked before a
//!   connection is made; only allowed addresses are handed to the connector, so a DNS answer
//!   that changes between a check and the connection (DNS rebinding) cannot slip past.
//!   Addresses written literally in the URL never reach a resolver, so [`OutboundPolicy::check_url`]
//!   checks them before the request is sent.
//! - Redirects are never followed (see [`http_client`]): a permitted server cannot bounce the
//!   request to a refused one.
//! - Denied by default: loopback, link-local (which holds the EC2 metadata address), the IPv6
//!   EC2 metadata address, unspecified, multicast and broadcast addresses, and the adapter's own
//!   pod IPs. `--outbound-allow-cidr` lifts the defaults for chosen ranges (never for the
//!   adapter's own pod IPs); `--outbound-deny-cidr` refuses more.
//!
//! Pod IPs that come from the Kubernetes API (the pods json-path collector) are not chosen by
//! the tenant and do not go through this policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused (a bounded set: it becomes part of Events and metrics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// One of the adapter's own pod IPs (its admin and API ports).
    OwnPod,
    /// Matched an `--outbound-deny-cidr` range.
    DeniedRange(IpNet),
    /// 127.0.0.0/8 or ::1.
    Loopback,
    /// The EC2 instance metadata service (IPv4 or IPv6).
    InstanceMetadata,
    /// 169.254.0.0/16 or fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8 or :: (reaches the local host on Linux).
    Unspecified,
    /// Multicast or broadcast.
    Multicast,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OwnPod => f.write_str("it is the metrics adapter's own pod"),
            Refusal::DeniedRange(net) => write!(f, "it is in the denied range {net}"),
            Refusal::Loopback => f.write_str("loopback addresses are not allowed"),
            Refusal::InstanceMetadata => f.write_str("it is the cloud instance metadata service"),
            Refusal::LinkLocal => f.write_str("link-local addresses are not allowed"),
            Refusal::Unspecified => f.write_str("unspecified addresses are not allowed"),
            Refusal::Multicast => f.write_str("multicast and broadcast addresses are not allowed"),
        }
    }
}

/// A connection the policy refused: which host, which address, why.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("address {addr} of host {host:?} is not allowed: {why}")]
pub struct AddressRefused {
    /// The host as written in the URL.
    pub host: String,
    /// The refused address.
    pub addr: IpAddr,
    /// Why.
    pub why: Refusal,
}

/// Which addresses collectors may connect to. Validated flags in, decisions out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// `--outbound-allow-cidr`: allowed even if a default would refuse them.
    pub allow: Vec<IpNet>,
    /// `--outbound-deny-cidr`: always refused.
    pub deny: Vec<IpNet>,
    /// The adapter's own pod IPs (`--pod-ip`): always refused.
    pub own_ips: Vec<IpAddr>,
}

/// fd00:ec2::254, the EC2 instance metadata service over IPv6.
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// The defaults' verdict on `ip` (already canonical: IPv4-mapped IPv6 unwrapped).
fn default_refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some(Refusal::Loopback)
            } else if v4 == Ipv4Addr::new(169, 254, 169, 254) {
                Some(Refusal::InstanceMetadata)
            } else if v4.is_link_local() {
                Some(Refusal::LinkLocal)
            } else if v4.octets()[0] == 0 {
                Some(Refusal::Unspecified)
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some(Refusal::Multicast)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                Some(Refusal::Loopback)
            } else if v6 == EC2_METADATA_V6 {
                Some(Refusal::InstanceMetadata)
            } else if v6.is_unicast_link_local() {
                Some(Refusal::LinkLocal)
            } else if v6.is_unspecified() {
                Some(Refusal::Unspecified)
            } else if v6.is_multicast() {
                Some(Refusal::Multicast)
            } else {
                None
            }
        }
    }
}

impl OutboundPolicy {
    /// Whether a connection to `ip` is allowed, and if not, why.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = ip.to_canonical();
        if self.own_ips.iter().any(|own| own.to_canonical() == ip) {
            return Err(Refusal::OwnPod);
        }
        if let Some(net) = self.deny.iter().find(|net| net.contains(&ip)) {
            return Err(Refusal::DeniedRange(*net));
        }
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        default_refusal(ip).map_or(Ok(()), Err)
    }

    /// Checks the host of `url` when it is an IP address (those never reach the resolver).
    /// Names are checked by [`PolicyResolver`] when the client resolves them.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), AddressRefused> {
        let host = url.host_str().unwrap_or_default();
        // IPv6 literals keep their brackets in `host_str`.
        let Ok(addr) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(());
        };
        self.check(addr).map_err(|why| AddressRefused {
            host: host.to_string(),
            addr,
            why,
        })
    }
}

/// A DNS resolver that hands the connector only the addresses the policy allows.
#[derive(Clone, Debug)]
pub struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut allowed = Vec::new();
            let mut refused = None;
            for addr in resolved {
                match policy.check(addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(why) => {
                        refused.get_or_insert(AddressRefused {
                            host: host.clone(),
                            addr: addr.ip(),
                            why,
                        });
                    }
                }
            }
            match (allowed.is_empty(), refused) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(refused)) => Err(refused.into()),
                (true, None) => Err(format!("{host:?} resolved to no address").into()),
            }
        })
    }
}

/// The refusal behind a failed request, if the policy was the cause.
pub fn refusal_of<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a AddressRefused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<AddressRefused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

/// An HTTP client for tenant-chosen addresses: names resolved through the policy (when one is
/// given), no proxy (a proxy would resolve names where the policy cannot see), no redirects.
pub fn http_client(
    policy: Option<Arc<OutboundPolicy>>,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .timeout(request_timeout);
    match policy {
        Some(policy) => builder.dns_resolver(PolicyResolver::new(policy)),
        None => builder,
    }
    .build()
}

#[cfg(test)]
mod tests;
