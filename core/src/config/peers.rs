//! IP networks for `[mail] inbound_allowed_peers`: `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`.

use std::{fmt, net::IpAddr, str::FromStr};

use serde::{Deserialize, Deserializer};

/// An IP address or a network in CIDR notation; an address alone is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The network address (host bits cleared).
    addr: IpAddr,
    prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// The top `prefix` bits of a `width`-bit value.
fn masked(value: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 { 0 } else { value >> (width - prefix) << (width - prefix) }
}

impl IpNet {
    /// Whether `ip` is in this network; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
    /// dual-stack socket reports IPv4 peers) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (value, width) = bits(ip.to_canonical());
        let (net, net_width) = bits(self.addr);
        width == net_width && masked(value, self.prefix, width) == net
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr =
            addr.parse().map_err(|_| format!("`{s}` is not an IP address or network such as 10.0.0.0/8"))?;
        let addr = addr.to_canonical();
        let (value, width) = bits(addr);
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {width}"))?,
        };
        let net = masked(value, prefix, width);
        let addr = match addr {
            IpAddr::V4(_) => IpAddr::V4(u32::try_from(net).unwrap_or_default().into()),
            IpAddr::V6(_) => IpAddr::V6(net.into()),
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    fn net(s: &str) -> IpNet {
        s.parse().expect("a network")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let ip = |s: &str| s.parse().expect("an address");
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("10.1.2.3/8").contains(ip("10.9.9.9")), "host bits are ignored");
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(net("192.0.2.7").contains(ip("::ffff:192.0.2.7")), "IPv4-mapped peer");
        assert!(net("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!net("2001:db8::/32").contains(ip("10.0.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        for bad in ["", "10.0.0.0/33", "mx.pcf.fr", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
