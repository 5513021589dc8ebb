//! What one client may ask of the pages: a cap on requests in flight, and per-address and
//! per-account rate limits on sign-in and on the pages that take a token from a URL.
//!
//! The client's address is the TCP peer's, or — when the peer is a trusted proxy (`[web]
//! trusted_proxies`, loopback by default: the site's nginx) — the address `X-Forwarded-For` names
//! (its last entry not itself a trusted proxy). Sign-ins pass that address on to
//! Synapse, whose own per-address limit would otherwise see every referent as 127.0.0.1, so one
//! attacker would lock all of them out. Limits are per node (memory): a deployment with several
//! nodes behind one proxy multiplies them by the number of nodes.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use relais_core::config::IpNet;

/// A token bucket per key: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys kept at most; past this, full buckets are forgotten first.
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst: f64::from(burst), per_second: f64::from(per_minute) / 60.0, buckets: Mutex::default() }
    }

    /// Takes one request for `key`; `false` when its bucket is empty.
    pub fn allow(&self, key: &str) -> bool {
        self.allow_at(key, Instant::now())
    }

    fn allow_at(&self, key: &str, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            // Someone is minting keys (addresses, account names): start afresh rather than
            // refuse every newcomer or scan the map on each request.
            tracing::warn!("rate limiter full: its counts are reset");
            buckets.clear();
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The limits of the web listener.
#[derive(Debug)]
pub struct Limits {
    /// Sign-in attempts per client address.
    pub sign_in_by_address: RateLimiter,
    /// Sign-in attempts per account named, from one address.
    pub sign_in_by_account: RateLimiter,
    /// Requests to pages opened by a token in their URL, per client address.
    pub tokens_by_address: RateLimiter,
    /// Sympathisers' sign-ups per client address: each may send a mail.
    pub sign_ups_by_address: RateLimiter,
    /// Sign-ups per mail domain, whatever the client address: a flood spread over many
    /// addresses cannot aim the confirmation mails at one provider's inboxes.
    pub sign_ups_by_domain: RateLimiter,
    /// Sign-ups on this node in all: the confirmation mails it may send at most.
    pub sign_ups_everywhere: RateLimiter,
    /// Password resets per referent.
    pub resets_by_referent: RateLimiter,
    /// Peers whose `X-Forwarded-For` is believed.
    trusted_proxies: Vec<IpNet>,
}

impl Limits {
    pub fn new(trusted_proxies: Vec<IpNet>) -> Self {
        Self {
            sign_in_by_address: RateLimiter::new(10, 10),
            sign_in_by_account: RateLimiter::new(5, 5),
            // A congress hall votes from one Wi-Fi address: tokens are unguessable, this only
            // bounds volume.
            tokens_by_address: RateLimiter::new(600, 600),
            // A stand at a market signs up a few people in a row from one phone.
            sign_ups_by_address: RateLimiter::new(10, 4),
            // A campaign evening brings many sign-ups from one provider's addresses.
            sign_ups_by_domain: RateLimiter::new(30, 15),
            sign_ups_everywhere: RateLimiter::new(200, 60),
            // A help session at the federation: a few members in a row, not the whole file.
            resets_by_referent: RateLimiter::new(10, 2),
            trusted_proxies,
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(ip))
    }

    /// The client's address: the peer's or, when the peer is a trusted proxy, the last address
    /// of `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it saw,
    /// so entries left of an untrusted one may be chosen by the client). Every
    /// `X-Forwarded-For` line counts, in order (some proxies add a line instead of extending
    /// one); entries may carry a port (`192.0.2.1:5678`, `[2001:db8::1]:443`). An entry that is
    /// not an address ends the walk at the last address read: only a trusted proxy wrote what
    /// lies to its right.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        // `[::]` listeners see IPv4 peers as ::ffff:a.b.c.d.
        let mut client = peer.ip().to_canonical();
        if !self.trusted(client) {
            return client;
        }
        let lines: Vec<&[u8]> = headers.get_all("x-forwarded-for").iter().map(|v| v.as_bytes()).collect();
        for entry in lines.iter().rev().flat_map(|line| line.rsplit(|b| *b == b',')) {
            let Some(ip) = forwarded_address(entry) else {
                return client;
            };
            client = ip;
            if !self.trusted(client) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry as an address: `ip`, `ip:port` or `[ipv6]:port`.
fn forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    let ip =
        entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))?;
    Some(ip.to_canonical())
}

/// The key an address is limited under: an IPv4 address, or the /64 of an IPv6 one (a single
/// client usually holds a whole /64 and could otherwise rotate through it).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// How long a client is told to wait after a refusal.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow_at("a", t0)));
        assert!(!limiter.allow_at("a", t0), "burst spent");
        assert!(limiter.allow_at("b", t0), "another key has its own bucket");
        assert!(limiter.allow_at("a", t0 + Duration::from_secs(1)), "one per second comes back");
        assert!(!limiter.allow_at("a", t0 + Duration::from_secs(1)));
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("192.0.2.7".parse().expect("ip")), "192.0.2.7");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("header"));
        headers
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let limits = Limits::new(vec!["127.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")]);
        let headers = forwarded("203.0.113.9, 198.51.100.7");
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        assert_eq!(limits.client_ip(local, &headers), ip("198.51.100.7"));
        assert_eq!(
            limits.client_ip(remote, &headers),
            remote.ip(),
            "a remote peer cannot choose its address"
        );
        assert_eq!(limits.client_ip(local, &HeaderMap::new()), local.ip());
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
        assert_eq!(limits.client_ip(mapped, &headers), ip("198.51.100.7"), "IPv4-mapped loopback");
        assert_eq!(limits.client_ip(local, &forwarded("not an address")), local.ip());
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_back_to_the_first_untrusted_address() {
        // nginx on 10.0.0.0/24 in front of a load balancer on loopback.
        let trusted = vec!["127.0.0.0/8".parse().expect("net"), "10.0.0.0/24".parse().expect("net")];
        let limits = Limits::new(trusted);
        let lb: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        // The client wrote "1.1.1.1" itself; nginx appended the address it saw, then the balancer.
        let headers = forwarded("1.1.1.1, 198.51.100.7, 10.0.0.3");
        assert_eq!(limits.client_ip(lb, &headers), ip("198.51.100.7"), "not the client's own claim");
        let nginx: SocketAddr = "10.0.0.3:5000".parse().expect("addr");
        assert_eq!(limits.client_ip(nginx, &forwarded("198.51.100.7")), ip("198.51.100.7"));
        let outsider: SocketAddr = "10.0.1.3:5000".parse().expect("addr");
        assert_eq!(limits.client_ip(outsider, &headers), outsider.ip(), "outside the trusted networks");
    }

    #[test]
    fn every_forwarded_line_counts_and_entries_may_carry_ports() {
        let limits = Limits::new(vec!["127.0.0.0/8".parse().expect("net")]);
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        // A proxy that adds its own line: the client's forged line comes first.
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "203.0.113.66".parse().expect("header"));
        headers.append("x-forwarded-for", "198.51.100.7".parse().expect("header"));
        assert_eq!(
            limits.client_ip(local, &headers),
            ip("198.51.100.7"),
            "the proxy's line, not the client's"
        );
        assert_eq!(limits.client_ip(local, &forwarded("198.51.100.7:5678")), ip("198.51.100.7"));
        assert_eq!(limits.client_ip(local, &forwarded("[2001:db8::1]:443")), ip("2001:db8::1"));
        // Bytes a client may add (obs-text) left of the proxy's entry do not hide it.
        let mut headers = HeaderMap::new();
        let raw = axum::http::HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.7").expect("obs-text");
        headers.insert("x-forwarded-for", raw);
        assert_eq!(limits.client_ip(local, &headers), ip("198.51.100.7"));
        assert_eq!(
            limits.client_ip(local, &forwarded("unknown, 127.0.0.1")),
            local.ip(),
            "no address past the proxies"
        );
    }
}
