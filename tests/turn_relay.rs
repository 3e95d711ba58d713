//! openkvs's own TURN relay (`[turn]`, `src/turn_relay.rs`): GetIceServerConfig lists it with
//! per-request credentials when no TURN server is configured; a TURN client (the `turn` crate's,
//! the same RFC 5766 exchange a browser makes) allocates with those credentials and relays
//! datagrams both ways to a peer; a wrong password and an expired credential are refused; the
//! relay's counters show it. (A relay-only browser session through it: `tests/browser_webrtc.rs`.)

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use common::{Backend, TestServer, metric_value};
use openkvs::signaling::ice::turn_credentials;
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

const SECRET: &str = "relay-test-secret";

async fn turn_client(server: SocketAddr, username: &str, password: &str) -> Client {
    let conn = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: "openkvs".into(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
}

fn signaling_client(srv: &TestServer) -> aws_sdk_kinesisvideosignaling::Client {
    let conf = aws_sdk_kinesisvideosignaling::Config::builder()
        .http_client(openkvs::producer::control::sdk_http_client())
        .behavior_version(aws_sdk_kinesisvideosignaling::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideosignaling::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "test"))
        .endpoint_url(&srv.endpoint)
        .build();
    aws_sdk_kinesisvideosignaling::Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn get_ice_server_config_lists_the_own_relay_which_relays_with_fresh_credentials_only() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.turn.shared_secret = Some(SECRET.into());
        c.turn.public_ip = Some("127.0.0.1".parse().unwrap());
    })
    .await;
    let channel = srv.kvs().create_signaling_channel().channel_name("porch").send().await.unwrap();
    let arn = channel.channel_arn.unwrap();
    let sig = signaling_client(&srv);
    let ice = sig.get_ice_server_config().channel_arn(&arn).client_id("viewer-7").send().await.unwrap();
    let list = ice.ice_server_list.unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let uri = &list[0].uris()[0];
    let port: u16 = uri
        .strip_prefix("turn:127.0.0.1:")
        .and_then(|r| r.strip_suffix("?transport=udp"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected TURN URI {uri}"));
    assert_ne!(port, 0);
    let username = list[0].username.clone().unwrap();
    let password = list[0].password.clone().unwrap();
    assert!(username.ends_with(":viewer-7"), "{username}");
    assert_eq!(list[0].ttl, Some(300));
    let relay_server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // Allocate with the minted credentials and relay to a peer and back.
    let client = turn_client(relay_server, &username, &password).await;
    let relayed = client.allocate().await.expect("allocation with fresh credentials");
    let relayed_addr = relayed.local_addr().unwrap();
    assert_eq!(relayed_addr.ip().to_string(), "127.0.0.1");
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    relayed.send_to(b"through the relay", peer_addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) =
        tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], b"through the relay");
    assert_eq!(from, relayed_addr, "the peer sees the relayed address");
    peer.send_to(b"and back", from).await.unwrap();
    let (n, from) =
        tokio::time::timeout(Duration::from_secs(5), relayed.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!((&buf[..n], from), (&b"and back"[..], peer_addr));
    assert_eq!(metric_value(srv.addr, "openkvs_turn_allocations_total").await, 1.0);
    assert_eq!(metric_value(srv.addr, "openkvs_turn_active_allocations").await, 1.0);
    assert!(metric_value(srv.addr, "openkvs_turn_relayed_bytes_total").await >= 25.0);
    client.close().await.unwrap();

    // A wrong password fails MESSAGE-INTEGRITY; an expired credential is refused.
    let wrong = turn_client(relay_server, &username, "bm90LXRoZS1wYXNzd29yZA==").await;
    assert!(wrong.allocate().await.is_err(), "a wrong password is refused");
    wrong.close().await.unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (old_user, old_pass) = turn_credentials(SECRET, "viewer-7", now - 3600, 300);
    let expired = turn_client(relay_server, &old_user, &old_pass).await;
    assert!(expired.allocate().await.is_err(), "an expired credential is refused");
    expired.close().await.unwrap();
    assert_eq!(metric_value(srv.addr, "openkvs_turn_allocations_total").await, 1.0, "no new allocation");
    assert!(metric_value(srv.addr, "openkvs_turn_refused_credentials_total").await >= 1.0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_relay_is_not_listed() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.turn.enabled = false).await;
    let channel = srv.kvs().create_signaling_channel().channel_name("attic").send().await.unwrap();
    let sig = signaling_client(&srv);
    let ice = sig.get_ice_server_config().channel_arn(channel.channel_arn.unwrap()).send().await.unwrap();
    assert!(ice.ice_server_list.unwrap_or_default().is_empty());
    srv.stop().await;
}
