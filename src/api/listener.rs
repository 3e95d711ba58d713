//! Where requests come in and which base URLs clients are given: the [`ListenerInfo`] and
//! [`RemoteAddr`] the accept loop inserts into every request, and the base URL of this server as a
//! client should use it (GetDataEndpoint, GetSignalingChannelEndpoint, the HLS/DASH session URLs).
//! Pure string work; no I/O.

use std::net::SocketAddr;

use super::ApiSettings;

/// Which listener a request arrived on; inserted into every request by the server's accept loop.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The listener's bound address.
    pub local_addr: SocketAddr,
}

/// The client's address (the TCP peer) of the connection a request arrived on; inserted into
/// every request by the server's accept loop, for logs.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

impl ListenerInfo {
    /// The base URL of this listener as a client should use it: the listener's own IP, or (for a
    /// wildcard address) the host the client sent, with the listener's port unless it is the
    /// scheme's default (see [`without_default_port`]).
    pub fn base_url(&self, host_header: Option<&str>) -> String {
        let port = self.local_addr.port();
        let ip = self.local_addr.ip();
        let host = if ip.is_unspecified() {
            match host_header.map(strip_port).filter(|h| !h.is_empty()) {
                Some(h) => h.to_owned(),
                None => "127.0.0.1".to_owned(),
            }
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        without_default_port(&format!("{}://{}:{}", self.scheme, host, port))
    }
}

/// `scheme://host[:port]` without `:port` when it is the scheme's default (443 for `https`/`wss`,
/// 80 for `http`/`ws`), the way AWS writes every endpoint it hands out. Clients rely on that: the
/// KVS WebRTC C SDK ends the host name at the first `:` after the scheme and always connects to
/// 443, so `https://h:443` fails there before any request. Other ports and URLs are unchanged.
pub fn without_default_port(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let default = match scheme {
        "https" | "wss" => "443",
        "http" | "ws" => "80",
        _ => return url.to_owned(),
    };
    match rest.rsplit_once(':') {
        Some((host, port)) if port == default && (!host.contains(':') || host.ends_with(']')) => {
            format!("{scheme}://{host}")
        }
        _ => url.to_owned(),
    }
}

/// The base URL clients should use for data endpoints and session URLs: the configured
/// `public_url`, else the listener the request arrived on (with the host the client used for a
/// wildcard listener), without the scheme's default port. Shared by GetDataEndpoint and the
/// HLS/DASH session URLs.
pub fn public_base_url(settings: &ApiSettings, listener: &ListenerInfo, host: Option<&str>) -> String {
    match &settings.public_url {
        Some(u) => without_default_port(u.trim_end_matches('/')),
        None => listener.base_url(host),
    }
}

/// The host part of a `Host` header value (`h`, `h:port`, `[v6]`, `[v6]:port`).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_adds_the_port_back() {
        let any = ListenerInfo { scheme: "https", local_addr: "0.0.0.0:8443".parse().unwrap() };
        assert_eq!(any.base_url(Some("127.0.0.1")), "https://127.0.0.1:8443");
        assert_eq!(any.base_url(Some("cam.example:9")), "https://cam.example:8443");
        assert_eq!(any.base_url(None), "https://127.0.0.1:8443");
        let lo = ListenerInfo { scheme: "http", local_addr: "127.0.0.1:4567".parse().unwrap() };
        assert_eq!(lo.base_url(Some("localhost")), "http://127.0.0.1:4567");
        let v6 = ListenerInfo { scheme: "http", local_addr: "[::1]:1".parse().unwrap() };
        assert_eq!(v6.base_url(None), "http://[::1]:1");
    }

    #[test]
    fn default_ports_are_left_out() {
        let tls = ListenerInfo { scheme: "https", local_addr: "0.0.0.0:443".parse().unwrap() };
        assert_eq!(tls.base_url(Some("kvs.example:443")), "https://kvs.example");
        let lo = ListenerInfo { scheme: "https", local_addr: "127.0.0.1:443".parse().unwrap() };
        assert_eq!(lo.base_url(None), "https://127.0.0.1");
        let plain = ListenerInfo { scheme: "http", local_addr: "[::1]:80".parse().unwrap() };
        assert_eq!(plain.base_url(None), "http://[::1]");
        let odd = ListenerInfo { scheme: "http", local_addr: "127.0.0.1:443".parse().unwrap() };
        assert_eq!(odd.base_url(None), "http://127.0.0.1:443");
        for (url, want) in [
            ("https://h:443", "https://h"),
            ("wss://h:443", "wss://h"),
            ("ws://h:80", "ws://h"),
            ("http://10.0.0.5:80", "http://10.0.0.5"),
            ("https://h:8443", "https://h:8443"),
            ("https://h:4430", "https://h:4430"),
            ("http://h:443", "http://h:443"),
            ("https://[::1]:443", "https://[::1]"),
            ("https://h", "https://h"),
            ("https://[::1]", "https://[::1]"),
        ] {
            assert_eq!(without_default_port(url), want, "{url}");
        }
    }
}
