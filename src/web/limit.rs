//! What one client may ask of the pages: a cap on requests in flight, and per-address and
//! per-account rate limits on sign-in and on the pages that take a token from a URL.
//!
//! The client's address is the TCP peer's, or — when the peer is on loopback, i.e. the site's
//! nginx — the `X-Forwarded-For` it sets (its last entry). Sign-ins pass that address on to
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_by_address: RateLimiter::new(10, 10),
            sign_in_by_account: RateLimiter::new(5, 5),
            // A congress hall votes from one Wi-Fi address: tokens are unguessable, this only
            // bounds volume.
            tokens_by_address: RateLimiter::new(600, 600),
        }
    }
}

/// The client's address: the peer's, or the proxy's `X-Forwarded-For` when the peer is local.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    // `[::]` listeners see IPv4 peers as ::ffff:a.b.c.d.
    let peer_ip = peer.ip().to_canonical();
    if !peer_ip.is_loopback() {
        return peer_ip;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .map(|ip: IpAddr| ip.to_canonical())
        .unwrap_or(peer_ip)
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

    #[test]
    fn the_forwarded_address_counts_only_behind_a_local_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().expect("header"));
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        assert_eq!(client_ip(local, &headers), "198.51.100.7".parse::<IpAddr>().expect("ip"));
        assert_eq!(client_ip(remote, &headers), remote.ip(), "a remote peer cannot choose its address");
        assert_eq!(client_ip(local, &HeaderMap::new()), local.ip());
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
        assert_eq!(
            client_ip(mapped, &headers),
            "198.51.100.7".parse::<IpAddr>().expect("ip"),
            "IPv4-mapped loopback"
        );
    }
}
