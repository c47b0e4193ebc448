//! The client's address behind a reverse proxy. TLS for the web app comes
//! from a proxy, and then every connection's peer is the proxy: the
//! per-address sign-in limit would count everyone as one. With
//! `HOLDPOINT_TRUSTED_PROXIES` (CIDR ranges; none by default), a peer in
//! those ranges is believed about who it forwards for: the client is the
//! rightmost address of the forwarding header that is not itself a
//! trusted proxy. The header is `X-Forwarded-For` (what nginx, Caddy and
//! load balancers append), or `Forwarded` (RFC 7239) when
//! `HOLDPOINT_FORWARDED_HEADER` says so: only one is read, because a proxy
//! that appends to one passes a client's own copy of the other through.
//! Hops further left than the first untrusted one are the client's own
//! writing and are never read. Headers from any other peer are ignored, so
//! a client cannot name its own address.

use axum::http::HeaderMap;
use std::net::IpAddr;

/// Address ranges whose forwarding headers are believed, and which header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
    header: ForwardedHeader,
}

/// The header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(format!(
                "{raw:?} is not a forwarding header: x-forwarded-for or forwarded"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(raw: &str) -> Result<Self, String> {
        let problem = || {
            format!(
                "{raw:?} is not an address range: write an address (10.0.0.7) or a CIDR \
                 range (10.0.0.0/8, fd00::/8)"
            )
        };
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| problem())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(problem)?,
        };
        // `::ffff:10.0.0.0/104` is the IPv4 range 10.0.0.0/8.
        if let (IpAddr::V6(v6), true) = (network, prefix >= 96) {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Ok(Self {
                    network: IpAddr::V4(v4),
                    prefix: prefix - 96,
                });
            }
        }
        Ok(Self { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address a dual-stack socket reports as `::ffff:a.b.c.d` is that
/// IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR ranges; empty for none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ranges = raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ranges,
            header: ForwardedHeader::default(),
        })
    }

    /// The same ranges, reading `header`.
    pub fn reading(self, header: ForwardedHeader) -> Self {
        Self { header, ..self }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The client's address: the peer itself, unless it is a trusted proxy;
    /// then, walking the forwarding header from the right, the first hop
    /// that is not one. A hop that cannot be read before that (a trusted
    /// proxy wrote `unknown`) stops the walk at the last proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in self.hops(headers).iter().rev() {
            let Some(address) = self.hop_address(hop) else {
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// The forwarding header's entries, leftmost (the client's claim)
    /// first, across repeated header lines.
    fn hops(&self, headers: &HeaderMap) -> Vec<String> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .flat_map(|value| {
                value
                    .split(',')
                    .map(|hop| hop.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The address of one entry: `192.0.2.7` in X-Forwarded-For, the
    /// `for=` of a Forwarded element.
    fn hop_address(&self, hop: &str) -> Option<IpAddr> {
        match self.header {
            ForwardedHeader::XForwardedFor => parse_node(hop),
            ForwardedHeader::Forwarded => hop
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node.trim().trim_matches('"'))),
        }
    }
}

/// `192.0.2.7`, `192.0.2.7:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`,
/// `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1,fd00::/8").unwrap();
        assert!(trusted.trusts(ip("10.20.30.40")));
        assert!(trusted.trusts(ip("127.0.0.1")));
        assert!(trusted.trusts(ip("::ffff:127.0.0.1")));
        assert!(!trusted.trusts(ip("127.0.0.2")));
        assert!(trusted.trusts(ip("fd12::1")));
        assert!(!trusted.trusts(ip("fe80::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .trusts(ip("8.8.8.8")));
        let mapped = TrustedProxies::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.trusts(ip("10.9.9.9")) && mapped.trusts(ip("::ffff:10.9.9.9")));
        for bad in ["10.0.0.0/33", "10.0.0", "::/129", "proxy", "10.0.0.0/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let proxy = ip("10.0.0.2");
        // An untrusted peer cannot name its own address.
        let forged = headers(&[("x-forwarded-for", "192.0.2.1")]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
        // Behind a proxy: the address it forwards for.
        let one = headers(&[("x-forwarded-for", "192.0.2.1")]);
        assert_eq!(trusted.client(proxy, &one), ip("192.0.2.1"));
        // A client that sends its own header: the rightmost untrusted hop
        // is what the proxy saw, not what the client wrote.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(trusted.client(proxy, &spoofed), ip("198.51.100.7"));
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(trusted.client(proxy, &split), ip("198.51.100.7"));
        // The client's own junk further left is never read.
        let junk = headers(&[("x-forwarded-for", "x, unknown, 198.51.100.7")]);
        assert_eq!(trusted.client(proxy, &junk), ip("198.51.100.7"));
        // Only the configured header: a client's own Forwarded passes
        // through a proxy that appends X-Forwarded-For.
        let both = headers(&[
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(trusted.client(proxy, &both), ip("198.51.100.7"));
        // RFC 7239, with ports and IPv6, when configured.
        let rfc_proxies = trusted.clone().reading(ForwardedHeader::Forwarded);
        let rfc = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8::17]:4711\"",
        )]);
        assert_eq!(rfc_proxies.client(proxy, &rfc), ip("2001:db8::17"));
        assert_eq!(rfc_proxies.client(proxy, &one), proxy);
        // Unreadable where a proxy wrote it, or missing: the proxy itself.
        let unknown = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(trusted.client(proxy, &unknown), proxy);
        assert_eq!(trusted.client(proxy, &HeaderMap::new()), proxy);
        // Every hop trusted: the leftmost.
        let inside = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(trusted.client(proxy, &inside), ip("10.1.1.1"));
        // Nobody trusted (the default): always the peer.
        let none = TrustedProxies::default();
        assert_eq!(none.client(proxy, &one), proxy);
    }
}
