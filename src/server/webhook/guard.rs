//! The SSRF guard: webhook targets must be public. An admin-supplied URL must
//! not become a way to reach the database, the cloud metadata service or
//! anything else on the private side of the network.
//!
//! The check runs at connect time, on the addresses our own resolver hands
//! to the HTTP client (so a name that resolves to a public address when the
//! URL is saved and to 127.0.0.1 later, DNS rebinding, still cannot get
//! through), and up front for URLs that name an IP address directly (the
//! client does not resolve those).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is a public unicast address, reachable on the internet.
/// IPv4-mapped and IPv4-embedding IPv6 forms are judged by their IPv4 part.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()              // 0.0.0.0
        || a == 0                      // "this network"
        || ip.is_loopback()            // 127/8
        || ip.is_private()             // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()          // 169.254/16: cloud metadata lives here
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)       // 192.0.0/24, protocol assignments
        || ip.is_documentation()       // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 198 && (b == 18 || b == 19))   // 198.18/15, benchmarking
        || ip.is_multicast()           // 224/4
        || a >= 240) // 240/4 reserved, and the broadcast address
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Only global unicast (2000::/3) is routed on the internet; that already
    // excludes loopback, unspecified, unique-local (fc00::/7), link-local
    // (fe80::/10), site-local and multicast (ff00::/8).
    let global_unicast = (segments[0] & 0xe000) == 0x2000;
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    // Teredo (2001::/32) and ORCHID/benchmarking (2001:0000-01ff::) tunnel to
    // or stand for addresses we cannot judge.
    let special_2001 = segments[0] == 0x2001 && segments[1] < 0x0200;
    global_unicast && !documentation && !special_2001
}

/// The IPv4 address inside IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
/// (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::) forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(low()); // IPv4-compatible (not :: or ::1)
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(low());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// Why a target is refused, in words for the admin and the attempt log.
pub fn refusal(ip: IpAddr) -> String {
    format!(
        "refused: the address {ip} is private, loopback, link-local or otherwise not public \
         (set HOLDPOINT_WEBHOOK_ALLOW_PRIVATE=true to allow such targets)"
    )
}

/// Checks a webhook URL's shape, and its address when it names one directly.
/// Names are checked by [`GuardedResolver`] at every connection.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a webhook URL must start with http:// or https://, not {}:",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a webhook URL must not carry a user name or password".to_owned());
    }
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| "a webhook URL needs a host".to_owned())?;
    if let Some(ip) = literal_ip(host) {
        if !allow_private && !is_public(ip) {
            return Err(refusal(ip));
        }
    }
    Ok(url)
}

/// The address a URL's host names directly, if it is an IP literal rather
/// than a name. The URL parser has already normalised odd IPv4 spellings
/// (0x7f.1, 2130706433) to dotted form; IPv6 literals come bracketed.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Refuses a URL that points back at this Holdpoint server (its own port on
/// its own address, a loopback address, or, when it listens on every
/// interface, any non-public one), even where private targets are allowed:
/// a webhook must go to the agent, never loop into our own API.
pub async fn refuse_own_address(url: &Url, own: Option<SocketAddr>) -> Result<(), String> {
    let (Some(own), Some(port)) = (own, url.port_or_known_default()) else {
        return Ok(());
    };
    if port != own.port() {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let addresses: Vec<IpAddr> = match literal_ip(host) {
        Some(ip) => vec![ip],
        None => tokio::net::lookup_host((host, port))
            .await
            .map(|found| found.map(|addr| addr.ip()).collect())
            .unwrap_or_default(),
    };
    let is_own = |ip: IpAddr| {
        let ip = ip.to_canonical();
        ip == own.ip()
            || ip.is_loopback()
            || ip.is_unspecified()
            || (own.ip().is_unspecified() && !is_public(ip))
    };
    match addresses.into_iter().find(|ip| is_own(*ip)) {
        Some(ip) => Err(format!(
            "refused: {ip} port {port} is this Holdpoint server's own address; \
             a webhook must go to the agent's receiver"
        )),
        None => Ok(()),
    }
}

/// Resolves with the system resolver, then keeps only public addresses
/// (unless private ones are allowed); refuses the name when none is left.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            match (allowed.is_empty(), found.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(first)) => Err(format!("{host}: {}", refusal(first.ip())).into()),
                (true, None) => Err(format!("{host} has no address").into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(raw: &str) -> bool {
        is_public(raw.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for raw in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:0001::1",
            "::7f00:1",
            "2001::1",
        ] {
            assert!(!public(raw), "{raw} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for raw in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(raw), "{raw} must be allowed");
        }
    }

    #[tokio::test]
    async fn our_own_address_is_refused_even_when_private_targets_are_allowed() {
        let own: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let check = |raw: &str| {
            let url = Url::parse(raw).unwrap();
            async move { refuse_own_address(&url, Some(own)).await }
        };
        for ours in [
            "http://127.0.0.1:3000/api/v1/approvals",
            "http://localhost:3000/hook",
            "http://[::1]:3000/",
            "http://0.0.0.0:3000/",
        ] {
            let refused = check(ours).await.unwrap_err();
            assert!(refused.contains("own address"), "{ours}: {refused}");
        }
        for theirs in ["http://127.0.0.1:3001/hook", "https://hooks.example.com/"] {
            assert!(check(theirs).await.is_ok(), "{theirs}");
        }
        let everywhere: SocketAddr = "0.0.0.0:3000".parse().unwrap();
        let url = Url::parse("http://10.1.2.3:3000/").unwrap();
        assert!(refuse_own_address(&url, Some(everywhere)).await.is_err());
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("ftp://hooks.example.com/x", false).is_err());
        assert!(check_url("http://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
        let refused = check_url("http://169.254.169.254/latest/meta-data", false).unwrap_err();
        assert!(refused.contains("refused"), "{refused}");
        assert!(check_url("http://[::ffff:127.0.0.1]:8080/", false).is_err());
        assert!(check_url("http://2130706433/", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
    }
}
