//! Which local addresses the WebRTC endpoint listens on and offers as ICE host candidates.
//!
//! One UDP socket per candidate address (a socket bound to the wildcard address cannot tell
//! which local address a datagram arrived on, and ICE needs it). Owns the interface listing
//! (`getifaddrs`); it must not open sockets.

use std::net::{IpAddr, Ipv4Addr};

/// The addresses to bind and advertise: the configured `candidate_ips` when any; else the
/// listen IP when it is a specific address; else every up IPv4 interface address (loopback
/// included, so a browser on the same machine can connect).
pub fn candidate_ips(listen_ip: IpAddr, configured: &[IpAddr]) -> Vec<IpAddr> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    if !listen_ip.is_unspecified() {
        return vec![listen_ip];
    }
    let mut out = interface_ipv4s();
    if out.is_empty() {
        out.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    out
}

/// The IPv4 addresses of the interfaces that are up, loopback last.
fn interface_ipv4s() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free exactly once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_flags & (libc::IFF_UP as u32) == 0 {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points at a sockaddr whose family we check first.
        let family = unsafe { (*ifa.ifa_addr).sa_family };
        if i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET sockaddr is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let ip = IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort_by_key(|ip| ip.is_loopback());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_and_specific_addresses_win() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let other: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(candidate_ips(lo, &[other]), vec![other]);
        assert_eq!(candidate_ips(lo, &[]), vec![lo]);
        let all = candidate_ips(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &[]);
        assert!(all.contains(&lo), "{all:?}");
    }
}
