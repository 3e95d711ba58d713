//! WebRTC signaling end to end: channels made with the official aws-sdk-kinesisvideo client, the
//! signaling WebSocket opened with URLs presigned by `aws-sigv4` exactly as the KVS WebRTC SDKs
//! presign them, and the official `aws-sdk-kinesisvideosignaling` client for GetIceServerConfig and
//! SendAlexaOfferToMaster. Covers routing master ↔ named viewers, both SDKs' key casings, messages
//! held for MessageTtlSeconds, STATUS_RESPONSE errors, master replacement with GO_AWAY, oversized
//! frames, and refused upgrades (bad signature, expired URL, unknown channel, key policy).

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_kinesisvideo::types::{ChannelRole, SingleMasterConfiguration};
use common::signaling::{connect, presign, presign_as, quiet, recv, send, wss_endpoint};
use common::{Backend, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

backend_tests!(index_only: routing_and_casing, held_messages_and_replacement, errors_and_refused_upgrades, ice_and_alexa);

/// Creates a channel and returns its ARN and WSS endpoint (ws:// without a TLS listener).
async fn channel(srv: &TestServer, name: &str, ttl: i32) -> (String, String) {
    let kvs = srv.kvs();
    let arn = kvs
        .create_signaling_channel()
        .channel_name(name)
        .single_master_configuration(SingleMasterConfiguration::builder().message_ttl_seconds(ttl).build())
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let wss = wss_endpoint(&kvs, &arn, ChannelRole::Master).await;
    assert!(wss.starts_with("ws://"), "{wss}");
    (arn, wss)
}

/// The HTTP status of a refused upgrade.
async fn refused(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("upgrade accepted"),
    }
}

async fn routing_and_casing(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let (arn, wss) = channel(&srv, "door", 60).await;
    let mut master = connect(&wss, &arn, None).await;
    let mut v1 = connect(&wss, &arn, Some("viewer-1")).await;
    let mut v2 = connect(&wss, &arn, Some("viewer-2")).await;
    // JS SDK casing from a viewer: goes to the master with the sender's id, payload unchanged.
    send(&mut v1, json!({"action":"SDP_OFFER","messagePayload":"b2ZmZXI=","correlationId":"1"})).await;
    let m = recv(&mut master).await;
    assert_eq!(m, json!({"messageType":"SDP_OFFER","messagePayload":"b2ZmZXI=","senderClientId":"viewer-1"}));
    // C SDK casing from the master: only the named viewer gets it.
    send(
        &mut master,
        json!({"action":"SDP_ANSWER","RecipientClientId":"viewer-1","MessagePayload":"YW5zd2Vy"}),
    )
    .await;
    let m = recv(&mut v1).await;
    assert_eq!(m["messageType"], "SDP_ANSWER");
    assert_eq!(m["messagePayload"], "YW5zd2Vy");
    assert!(m.get("senderClientId").is_none());
    assert!(quiet(&mut v2).await, "viewer-2 is not the recipient");
    send(&mut v2, json!({"action":"ICE_CANDIDATE","messagePayload":"Y2FuZA=="})).await;
    assert_eq!(recv(&mut master).await["senderClientId"], "viewer-2");
    srv.stop().await;
}

async fn held_messages_and_replacement(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let (arn, wss) = channel(&srv, "hall", 5).await;
    // The viewer speaks before the master is there: held for MessageTtlSeconds.
    let mut v = connect(&wss, &arn, Some("early")).await;
    send(&mut v, json!({"action":"SDP_OFFER","messagePayload":"aGVsZA=="})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut m1 = connect(&wss, &arn, None).await;
    assert_eq!(recv(&mut m1).await["messagePayload"], "aGVsZA==");
    // A message for a viewer that has not connected yet waits for it.
    send(&mut m1, json!({"action":"SDP_OFFER","recipientClientId":"late","messagePayload":"bGF0ZQ=="})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut late = connect(&wss, &arn, Some("late")).await;
    assert_eq!(recv(&mut late).await["messagePayload"], "bGF0ZQ==");
    // A new master replaces the old one, which is told to go away.
    let mut m2 = connect(&wss, &arn, None).await;
    assert_eq!(recv(&mut m1).await, json!({"messageType":"GO_AWAY"}));
    send(&mut v, json!({"action":"ICE_CANDIDATE","messagePayload":"Yw=="})).await;
    assert_eq!(recv(&mut m2).await["senderClientId"], "early");
    srv.stop().await;
}

async fn errors_and_refused_upgrades(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.signaling.max_message_bytes = 4096;
        c.auth.keys.push(openkvs::auth::KeyConfig {
            access_key_id: "lobby-only".into(),
            secret_access_key: "lobby-secret".into(),
            operations: None,
            streams: Some(vec!["lobby-*".into()]),
        });
    })
    .await;
    let (arn, wss) = channel(&srv, "gate", 60).await;
    let mut master = connect(&wss, &arn, None).await;
    // Failed messages with a correlationId get a STATUS_RESPONSE; without one, nothing.
    send(&mut master, json!({"action":"SDP_OFFER","messagePayload":"eA==","correlationId":"c-1"})).await;
    let s = recv(&mut master).await;
    assert_eq!(s["messageType"], "STATUS_RESPONSE");
    assert_eq!(s["statusResponse"]["correlationId"], "c-1");
    assert_eq!(s["statusResponse"]["errorType"], "InvalidArgumentException");
    assert_eq!(s["statusResponse"]["statusCode"], "400");
    send(&mut master, json!({"action":"DANCE","messagePayload":"eA==","CorrelationId":"c-2"})).await;
    assert_eq!(recv(&mut master).await["statusResponse"]["correlationId"], "c-2");
    master.send(Message::Text("not json".into())).await.unwrap();
    assert!(quiet(&mut master).await);
    // An oversized frame ends that connection only.
    let mut v = connect(&wss, &arn, Some("big")).await;
    let _ = v.send(Message::Text("x".repeat(10_000).into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match v.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(closed);
    let mut v = connect(&wss, &arn, Some("small")).await;
    send(&mut v, json!({"action":"SDP_OFFER","messagePayload":"b2s="})).await;
    assert_eq!(recv(&mut master).await["senderClientId"], "small");

    // Refused upgrades: bad secret, expired URL, unknown channel, a key limited to other channels.
    assert_eq!(refused(&presign(&wss, &arn, None, "wrong", SystemTime::now(), 300)).await, 403);
    let old = SystemTime::now() - Duration::from_secs(600);
    assert_eq!(refused(&presign(&wss, &arn, Some("v"), "openkvs-secret", old, 300)).await, 403);
    let ghost = arn.replace("/gate/", "/ghost/");
    assert_eq!(refused(&presign(&wss, &ghost, None, "openkvs-secret", SystemTime::now(), 300)).await, 404);
    let url = presign_as(&wss, &arn, Some("v"), "lobby-only", "lobby-secret", SystemTime::now(), 300);
    assert_eq!(refused(&url).await, 401, "a key limited to lobby-* channels");
    srv.stop().await;
}

async fn ice_and_alexa(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.signaling.ice.turn_uris = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        c.signaling.ice.turn_shared_secret = Some("turn-secret".into());
    })
    .await;
    let (arn, wss) = channel(&srv, "alexa", 10).await;
    let conf = aws_sdk_kinesisvideosignaling::Config::builder()
        .http_client(openkvs::producer::control::sdk_http_client())
        .behavior_version(aws_sdk_kinesisvideosignaling::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesisvideosignaling::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("openkvs", "openkvs-secret", None, None, "test"))
        .endpoint_url(&srv.endpoint)
        .build();
    let sig = aws_sdk_kinesisvideosignaling::Client::from_conf(conf);
    let ice = sig.get_ice_server_config().channel_arn(&arn).client_id("viewer-9").send().await.unwrap();
    let list = ice.ice_server_list.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].uris(), ["turn:127.0.0.1:3478?transport=udp"]);
    assert!(list[0].username.as_deref().unwrap().ends_with(":viewer-9"));
    assert_eq!(list[0].password.as_deref().unwrap().len(), 28, "base64 HMAC-SHA1");
    assert_eq!(list[0].ttl, Some(300));
    let e =
        sig.get_ice_server_config().channel_arn(arn.replace("/alexa/", "/none/")).send().await.unwrap_err();
    assert_eq!(e.as_service_error().map(|e| e.meta().code()), Some(Some("ResourceNotFoundException")));

    // SendAlexaOfferToMaster: the master answers over its WebSocket.
    let mut master = connect(&wss, &arn, None).await;
    let answerer = tokio::spawn(async move {
        let offer = recv(&mut master).await;
        assert_eq!(offer["messageType"], "SDP_OFFER");
        assert_eq!(offer["senderClientId"], "echo-dot");
        send(
            &mut master,
            json!({"action":"SDP_ANSWER","recipientClientId":"echo-dot","messagePayload":"dGhlLWFuc3dlcg=="}),
        )
        .await;
        master
    });
    let out = sig
        .send_alexa_offer_to_master()
        .channel_arn(&arn)
        .sender_client_id("echo-dot")
        .message_payload("dGhlLW9mZmVy")
        .send()
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("dGhlLWFuc3dlcg=="));
    answerer.await.unwrap();
    srv.stop().await;
}
