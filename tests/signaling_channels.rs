//! The signaling-channel control plane (CreateSignalingChannel, DescribeSignalingChannel,
//! ListSignalingChannels, UpdateSignalingChannel, DeleteSignalingChannel,
//! GetSignalingChannelEndpoint, and TagResource / UntagResource / ListTagsForResource on channel
//! ARNs) driven by the official aws-sdk-kinesisvideo client against a real server, on SQLite and
//! (with TEST_DATABASE_URL) Postgres: lifecycle, every validation error, paging, versions, tags,
//! endpoints with and without a TLS listener or public URL, and key-policy globs on channel names.

mod common;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideo::types::{
    ChannelNameCondition, ChannelProtocol, ChannelRole, ChannelType, ComparisonOperator,
    SingleMasterChannelEndpointConfiguration, SingleMasterConfiguration, Status, Tag,
};
use common::{Backend, TestServer};
use openkvs::auth::KeyConfig;

backend_tests!(index_only:
    lifecycle_versions_and_deletion,
    invalid_inputs_are_rejected_like_the_model,
    unknown_channels_are_not_found,
    listing_pages_by_prefix_per_region,
    tags_on_channel_arns,
    endpoints_without_tls,
    endpoints_with_a_tls_listener,
    endpoints_with_a_public_url,
    key_policy_globs_apply_to_channel_names,
);

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

fn ttl(seconds: i32) -> SingleMasterConfiguration {
    SingleMasterConfiguration::builder().message_ttl_seconds(seconds).build()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

async fn create(kvs: &aws_sdk_kinesisvideo::Client, name: &str) -> String {
    kvs.create_signaling_channel().channel_name(name).send().await.unwrap().channel_arn.unwrap()
}

async fn lifecycle_versions_and_deletion(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "door-1").await;
    assert!(arn.starts_with("arn:aws:kinesisvideo:us-east-1:000000000000:channel/door-1/"), "{arn}");

    let info =
        kvs.describe_signaling_channel().channel_name("door-1").send().await.unwrap().channel_info.unwrap();
    assert_eq!(info.channel_name(), Some("door-1"));
    assert_eq!(info.channel_arn(), Some(arn.as_str()));
    assert_eq!(info.channel_type(), Some(&ChannelType::SingleMaster));
    assert_eq!(info.channel_status(), Some(&Status::Active));
    assert_eq!(info.single_master_configuration().and_then(|c| c.message_ttl_seconds()), Some(60));
    let created = info.creation_time().unwrap().secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - created).abs() < 60, "creation time {created} vs now {now}");
    let v1 = info.version().unwrap().to_owned();
    assert!(!v1.is_empty() && v1.chars().all(|c| c.is_ascii_alphanumeric()), "{v1}");
    let millis: i64 = arn.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(millis / 1000, created, "the ARN suffix is the creation time in millis");
    let by_arn =
        kvs.describe_signaling_channel().channel_arn(&arn).send().await.unwrap().channel_info.unwrap();
    assert_eq!(by_arn, info);

    // Explicit type and TTL; a stream may share a channel's name.
    let arn2 = kvs
        .create_signaling_channel()
        .channel_name("door-2")
        .channel_type(ChannelType::SingleMaster)
        .single_master_configuration(ttl(5))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let info2 =
        kvs.describe_signaling_channel().channel_arn(&arn2).send().await.unwrap().channel_info.unwrap();
    assert_eq!(info2.single_master_configuration().unwrap().message_ttl_seconds(), Some(5));
    kvs.create_stream().stream_name("door-1").send().await.unwrap();

    let dup =
        kvs.create_signaling_channel().channel_name("door-1").send().await.unwrap_err().into_service_error();
    assert!(dup.is_resource_in_use_exception(), "{dup:?}");

    // Update: the TTL changes and the version is replaced; the old version is now stale.
    kvs.update_signaling_channel()
        .channel_arn(&arn)
        .current_version(&v1)
        .single_master_configuration(ttl(120))
        .send()
        .await
        .unwrap();
    let info = kvs.describe_signaling_channel().channel_arn(&arn).send().await.unwrap().channel_info.unwrap();
    assert_eq!(info.single_master_configuration().unwrap().message_ttl_seconds(), Some(120));
    let v2 = info.version().unwrap().to_owned();
    assert_ne!(v2, v1);
    let stale = kvs
        .update_signaling_channel()
        .channel_arn(&arn)
        .current_version(&v1)
        .single_master_configuration(ttl(30))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(stale.is_version_mismatch_exception(), "{stale:?}");
    // No configuration: nothing changes but the version.
    kvs.update_signaling_channel().channel_arn(&arn).current_version(&v2).send().await.unwrap();
    let info = kvs.describe_signaling_channel().channel_arn(&arn).send().await.unwrap().channel_info.unwrap();
    assert_eq!(info.single_master_configuration().unwrap().message_ttl_seconds(), Some(120));
    let v3 = info.version().unwrap().to_owned();
    assert_ne!(v3, v2);

    // Delete: a stale version is refused; the current one (or none) deletes at once.
    let stale_delete =
        kvs.delete_signaling_channel().channel_arn(&arn).current_version(&v2).send().await.unwrap_err();
    assert!(stale_delete.into_service_error().is_version_mismatch_exception());
    kvs.delete_signaling_channel().channel_arn(&arn).current_version(&v3).send().await.unwrap();
    let gone =
        kvs.describe_signaling_channel().channel_arn(&arn).send().await.unwrap_err().into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
    kvs.delete_signaling_channel().channel_arn(&arn2).send().await.unwrap();
    // The names are free again; the stream of the same name is untouched.
    let again = create(&kvs, "door-1").await;
    assert_ne!(again, arn2);
    kvs.describe_stream().stream_name("door-1").send().await.unwrap();
    srv.stop().await;
}

async fn invalid_inputs_are_rejected_like_the_model(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "ok").await;
    let stream_arn = kvs.create_stream().stream_name("cam").send().await.unwrap().stream_arn.unwrap();
    let version = kvs
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap()
        .version
        .unwrap();
    let fifty_one: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let protocols = |p: Vec<ChannelProtocol>| {
        SingleMasterChannelEndpointConfiguration::builder()
            .set_protocols(Some(p))
            .role(ChannelRole::Master)
            .build()
    };

    let cases: Vec<(&str, Result<(), String>)> = vec![
        (
            "create: no name",
            kvs.create_signaling_channel()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: bad name",
            kvs.create_signaling_channel()
                .channel_name("bad name!")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: long name",
            kvs.create_signaling_channel()
                .channel_name("x".repeat(257))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: ttl 4",
            kvs.create_signaling_channel()
                .channel_name("t4")
                .single_master_configuration(ttl(4))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: ttl 121",
            kvs.create_signaling_channel()
                .channel_name("t121")
                .single_master_configuration(ttl(121))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: FULL_MESH",
            kvs.create_signaling_channel()
                .channel_name("mesh")
                .channel_type(ChannelType::FullMesh)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: bogus type",
            kvs.create_signaling_channel()
                .channel_name("bogus")
                .channel_type(ChannelType::from("STAR"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: 51 tags",
            kvs.create_signaling_channel()
                .channel_name("tags")
                .set_tags(Some(fifty_one.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: long tag key",
            kvs.create_signaling_channel()
                .channel_name("tagk")
                .tags(tag(&"k".repeat(129), "v"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "create: long tag value",
            kvs.create_signaling_channel()
                .channel_name("tagv")
                .tags(tag("k", &"v".repeat(257)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "describe: neither",
            kvs.describe_signaling_channel()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "describe: both",
            kvs.describe_signaling_channel()
                .channel_name("ok")
                .channel_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "describe: bad arn",
            kvs.describe_signaling_channel()
                .channel_arn("arn:nope")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "describe: stream arn",
            kvs.describe_signaling_channel()
                .channel_arn(&stream_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "describe: bad name",
            kvs.describe_signaling_channel()
                .channel_name("a/b")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: max 0",
            kvs.list_signaling_channels()
                .max_results(0)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: max 10001",
            kvs.list_signaling_channels()
                .max_results(10_001)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: bad operator",
            kvs.list_signaling_channels()
                .channel_name_condition(
                    ChannelNameCondition::builder()
                        .comparison_operator(ComparisonOperator::from("ENDS_WITH"))
                        .comparison_value("a")
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: no value",
            kvs.list_signaling_channels()
                .channel_name_condition(
                    ChannelNameCondition::builder()
                        .comparison_operator(ComparisonOperator::BeginsWith)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: bad value",
            kvs.list_signaling_channels()
                .channel_name_condition(
                    ChannelNameCondition::builder()
                        .comparison_operator(ComparisonOperator::BeginsWith)
                        .comparison_value("a b")
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "list: bad token",
            kvs.list_signaling_channels()
                .next_token("bm90LWEtdG9rZW4=")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "update: no arn",
            kvs.update_signaling_channel()
                .current_version(&version)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "update: no version",
            kvs.update_signaling_channel()
                .channel_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "update: bad version",
            kvs.update_signaling_channel()
                .channel_arn(&arn)
                .current_version("v-1")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "update: ttl 200",
            kvs.update_signaling_channel()
                .channel_arn(&arn)
                .current_version(&version)
                .single_master_configuration(ttl(200))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "update: stream arn",
            kvs.update_signaling_channel()
                .channel_arn(&stream_arn)
                .current_version(&version)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "delete: no arn",
            kvs.delete_signaling_channel()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "delete: bad arn",
            kvs.delete_signaling_channel()
                .channel_arn("arn:aws:kinesisvideo:us-east-1:0:channel/x")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "delete: bad version",
            kvs.delete_signaling_channel()
                .channel_arn(&arn)
                .current_version("")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: no arn",
            kvs.get_signaling_channel_endpoint()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: stream arn",
            kvs.get_signaling_channel_endpoint()
                .channel_arn(&stream_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: no protocols",
            kvs.get_signaling_channel_endpoint()
                .channel_arn(&arn)
                .single_master_channel_endpoint_configuration(protocols(vec![]))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: 6 protocols",
            kvs.get_signaling_channel_endpoint()
                .channel_arn(&arn)
                .single_master_channel_endpoint_configuration(protocols(vec![ChannelProtocol::Wss; 6]))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: bad protocol",
            kvs.get_signaling_channel_endpoint()
                .channel_arn(&arn)
                .single_master_channel_endpoint_configuration(protocols(vec![ChannelProtocol::from("SCTP")]))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "endpoint: bad role",
            kvs.get_signaling_channel_endpoint()
                .channel_arn(&arn)
                .single_master_channel_endpoint_configuration(
                    SingleMasterChannelEndpointConfiguration::builder()
                        .role(ChannelRole::from("OWNER"))
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "tag: channel, no tags",
            kvs.tag_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "tag: channel, 51 tags",
            kvs.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(fifty_one.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
        (
            "untag: channel, no keys",
            kvs.untag_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| code(&e.into_service_error())),
        ),
    ];
    for (what, result) in cases {
        assert_eq!(result, Err("InvalidArgumentException".to_owned()), "{what}");
    }
    // None of the refused creates left a channel behind; the good one is untouched.
    let all = kvs.list_signaling_channels().send().await.unwrap();
    let names: Vec<_> = all.channel_info_list().iter().filter_map(|c| c.channel_name()).collect();
    assert_eq!(names, ["ok"]);
    let info = kvs.describe_signaling_channel().channel_arn(&arn).send().await.unwrap().channel_info.unwrap();
    assert_eq!(info.version(), Some(version.as_str()));
    srv.stop().await;
}

async fn unknown_channels_are_not_found(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let real = create(&kvs, "real").await;
    // Same name, wrong creation millis: another (deleted) incarnation, not this channel.
    let ghost = "arn:aws:kinesisvideo:us-east-1:000000000000:channel/ghost/1";
    let stale_real = format!("{real}0");
    let errs = [
        code(
            &kvs.describe_signaling_channel()
                .channel_name("ghost")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.describe_signaling_channel()
                .channel_arn(ghost)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.describe_signaling_channel()
                .channel_arn(&stale_real)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.update_signaling_channel()
                .channel_arn(ghost)
                .current_version("v1")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.delete_signaling_channel().channel_arn(ghost).send().await.unwrap_err().into_service_error(),
        ),
        code(
            &kvs.get_signaling_channel_endpoint()
                .channel_arn(ghost)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.tag_resource()
                .resource_arn(ghost)
                .tags(tag("a", "b"))
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.untag_resource()
                .resource_arn(ghost)
                .tag_key_list("a")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.list_tags_for_resource().resource_arn(ghost).send().await.unwrap_err().into_service_error(),
        ),
    ];
    for (i, c) in errs.iter().enumerate() {
        assert_eq!(c, "ResourceNotFoundException", "case {i}");
    }
    // Channels live per region: the same ARN-less name is unknown elsewhere.
    let eu = srv.kvs_as("openkvs", "openkvs-secret", "eu-west-1");
    let other_region = eu.describe_signaling_channel().channel_name("real").send().await.unwrap_err();
    assert!(other_region.into_service_error().is_resource_not_found_exception());
    srv.stop().await;
}

async fn listing_pages_by_prefix_per_region(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    for name in ["a-1", "a-2", "a-3", "a-4", "a-5", "b-1", "A-9", "a_x"] {
        create(&kvs, name).await;
    }
    kvs.create_stream().stream_name("a-stream").send().await.unwrap();
    let eu = srv.kvs_as("openkvs", "openkvs-secret", "eu-west-1");
    create(&eu, "a-eu").await;

    let cond = ChannelNameCondition::builder()
        .comparison_operator(ComparisonOperator::BeginsWith)
        .comparison_value("a-")
        .build();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = kvs
            .list_signaling_channels()
            .max_results(2)
            .channel_name_condition(cond.clone())
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.channel_info_list().len() <= 2);
        for c in page.channel_info_list() {
            assert_eq!(c.channel_type(), Some(&ChannelType::SingleMaster));
            assert_eq!(c.channel_status(), Some(&Status::Active));
            assert_eq!(c.single_master_configuration().unwrap().message_ttl_seconds(), Some(60));
            assert!(c.version().is_some() && c.creation_time().is_some() && c.channel_arn().is_some());
            names.push(c.channel_name().unwrap().to_owned());
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["a-1", "a-2", "a-3", "a-4", "a-5"]);
    assert_eq!(pages, 3);

    // No condition, default MaxResults: everything of the region in byte order, no token.
    let all = kvs.list_signaling_channels().send().await.unwrap();
    let all_names: Vec<_> = all.channel_info_list().iter().filter_map(|c| c.channel_name()).collect();
    assert_eq!(all_names, ["A-9", "a-1", "a-2", "a-3", "a-4", "a-5", "a_x", "b-1"]);
    assert_eq!(all.next_token(), None);
    // A page that ends exactly at the last channel carries no token.
    let exact = kvs.list_signaling_channels().max_results(8).send().await.unwrap();
    assert_eq!(exact.channel_info_list().len(), 8);
    assert_eq!(exact.next_token(), None);
    // The SDK paginator walks the same pages.
    let paged: Vec<String> = kvs
        .list_signaling_channels()
        .max_results(3)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.channel_name.unwrap())
        .collect();
    assert_eq!(paged, all_names);
    let eu_all = eu.list_signaling_channels().send().await.unwrap();
    let eu_names: Vec<_> = eu_all.channel_info_list().iter().filter_map(|c| c.channel_name()).collect();
    assert_eq!(eu_names, ["a-eu"]);
    srv.stop().await;
}

async fn tags_on_channel_arns(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = kvs
        .create_signaling_channel()
        .channel_name("door")
        .tags(tag("site", "lab"))
        .tags(tag("empty", ""))
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    let stream_arn =
        kvs.create_stream().stream_name("door").tags("kind", "stream").send().await.unwrap().stream_arn;
    let tags = |arn: String| {
        let kvs = kvs.clone();
        async move {
            kvs.list_tags_for_resource().resource_arn(arn).send().await.unwrap().tags.unwrap_or_default()
        }
    };
    let t = tags(arn.clone()).await;
    assert_eq!(t.len(), 2);
    assert_eq!(t["site"], "lab");
    assert_eq!(t["empty"], "");

    let version = kvs
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap()
        .version;
    kvs.tag_resource()
        .resource_arn(&arn)
        .tags(tag("site", "roof"))
        .tags(tag("owner", "ops"))
        .send()
        .await
        .unwrap();
    let t = tags(arn.clone()).await;
    assert_eq!((t.len(), t["site"].as_str(), t["owner"].as_str()), (3, "roof", "ops"));
    let after = kvs
        .describe_signaling_channel()
        .channel_arn(&arn)
        .send()
        .await
        .unwrap()
        .channel_info
        .unwrap()
        .version;
    assert_eq!(after, version, "tagging does not change the version");
    kvs.untag_resource()
        .resource_arn(&arn)
        .tag_key_list("owner")
        .tag_key_list("missing")
        .send()
        .await
        .unwrap();
    assert_eq!(tags(arn.clone()).await.len(), 2);
    // The stream of the same name keeps its own tags.
    let st = tags(stream_arn.clone().unwrap()).await;
    assert_eq!(st.len(), 1);
    assert_eq!(st["kind"], "stream");

    // 50 tags at most per channel, counting existing ones; a refused call changes nothing.
    let forty_eight: Vec<Tag> = (0..48).map(|i| tag(&format!("k{i}"), "v")).collect();
    kvs.tag_resource().resource_arn(&arn).set_tags(Some(forty_eight)).send().await.unwrap();
    assert_eq!(tags(arn.clone()).await.len(), 50);
    let over = kvs.tag_resource().resource_arn(&arn).tags(tag("one-more", "x")).send().await.unwrap_err();
    assert!(over.into_service_error().is_tags_per_resource_exceeded_limit_exception());
    assert_eq!(tags(arn.clone()).await.len(), 50);

    // Deleting the channel removes its tags with it.
    kvs.delete_signaling_channel().channel_arn(&arn).send().await.unwrap();
    let again = create(&kvs, "door").await;
    assert!(tags(again).await.is_empty());
    srv.stop().await;
}

async fn endpoints(
    kvs: &aws_sdk_kinesisvideo::Client,
    arn: &str,
    config: Option<SingleMasterChannelEndpointConfiguration>,
) -> Vec<(String, String)> {
    kvs.get_signaling_channel_endpoint()
        .channel_arn(arn)
        .set_single_master_channel_endpoint_configuration(config)
        .send()
        .await
        .unwrap()
        .resource_endpoint_list
        .unwrap()
        .into_iter()
        .map(|e| (e.protocol.unwrap().as_str().to_owned(), e.resource_endpoint.unwrap()))
        .collect()
}

fn wss_https(role: ChannelRole) -> SingleMasterChannelEndpointConfiguration {
    SingleMasterChannelEndpointConfiguration::builder()
        .protocols(ChannelProtocol::Wss)
        .protocols(ChannelProtocol::Https)
        .role(role)
        .build()
}

async fn endpoints_without_tls(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "door").await;
    let port = srv.addr.port();
    let ws = format!("ws://127.0.0.1:{port}");
    let http = format!("http://127.0.0.1:{port}");
    assert_eq!(
        endpoints(&kvs, &arn, None).await,
        [("WSS".into(), ws.clone()), ("HTTPS".into(), http.clone()), ("WEBRTC".into(), http.clone())]
    );
    assert_eq!(
        endpoints(&kvs, &arn, Some(wss_https(ChannelRole::Master))).await,
        [("WSS".into(), ws.clone()), ("HTTPS".into(), http.clone())]
    );
    let viewer_https_first = SingleMasterChannelEndpointConfiguration::builder()
        .protocols(ChannelProtocol::Https)
        .protocols(ChannelProtocol::Wss)
        .role(ChannelRole::Viewer)
        .build();
    assert_eq!(
        endpoints(&kvs, &arn, Some(viewer_https_first)).await,
        [("HTTPS".into(), http.clone()), ("WSS".into(), ws.clone())]
    );
    let role_only = SingleMasterChannelEndpointConfiguration::builder().role(ChannelRole::Viewer).build();
    assert_eq!(endpoints(&kvs, &arn, Some(role_only)).await.len(), 3);
    srv.stop().await;
}

async fn endpoints_with_a_tls_listener(backend: Backend) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let srv = TestServer::start_with(backend, |c| {
        c.tls.cert = Some(cert_path.clone());
        c.tls.key = Some(key_path.clone());
        c.tls.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let tls_port = srv.tls_addr.expect("https listener").port();
    assert_ne!(tls_port, 0, "the real bound port, not the configured 0");
    assert_ne!(tls_port, srv.addr.port());
    let kvs = srv.kvs();
    let arn = create(&kvs, "door").await;
    // Asked over plain HTTP, the answer still points at the HTTPS listener.
    let wss = format!("wss://127.0.0.1:{tls_port}");
    let https = format!("https://127.0.0.1:{tls_port}");
    assert_eq!(
        endpoints(&kvs, &arn, None).await,
        [("WSS".into(), wss.clone()), ("HTTPS".into(), https.clone()), ("WEBRTC".into(), https.clone())]
    );
    assert_eq!(
        endpoints(&kvs, &arn, Some(wss_https(ChannelRole::Viewer))).await,
        [("WSS".into(), wss), ("HTTPS".into(), https)]
    );
    srv.stop().await;
}

async fn endpoints_with_a_public_url(backend: Backend) {
    let srv =
        TestServer::start_with(backend, |c| c.public_url = Some("https://kvs.example.com:8443".into())).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "door").await;
    assert_eq!(
        endpoints(&kvs, &arn, Some(wss_https(ChannelRole::Master))).await,
        [
            ("WSS".into(), "wss://kvs.example.com:8443".into()),
            ("HTTPS".into(), "https://kvs.example.com:8443".into())
        ]
    );
    srv.stop().await;
}

async fn key_policy_globs_apply_to_channel_names(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.auth.keys.push(KeyConfig {
            access_key_id: "doors".into(),
            secret_access_key: "doors-secret".into(),
            operations: None,
            streams: Some(vec!["door-*".into()]),
        });
        c.auth.keys.push(KeyConfig {
            access_key_id: "reader".into(),
            secret_access_key: "reader-secret".into(),
            operations: Some(vec!["DescribeSignalingChannel".into(), "ListSignalingChannels".into()]),
            streams: None,
        });
    })
    .await;
    let admin = srv.kvs();
    let lobby = create(&admin, "lobby").await;
    let doors = srv.kvs_as("doors", "doors-secret", "us-east-1");
    let door = create(&doors, "door-1").await;
    doors.describe_signaling_channel().channel_arn(&door).send().await.unwrap();
    endpoints(&doors, &door, None).await;
    doors.tag_resource().resource_arn(&door).tags(tag("a", "b")).send().await.unwrap();

    // Outside the globs: AccessDeniedException (the model's code for these operations), decided
    // before the lookup, so an unknown name answers the same as an existing one.
    let denied = [
        code(
            &doors
                .create_signaling_channel()
                .channel_name("lobby-2")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .describe_signaling_channel()
                .channel_name("lobby")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .describe_signaling_channel()
                .channel_name("no-such")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .describe_signaling_channel()
                .channel_arn(&lobby)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .get_signaling_channel_endpoint()
                .channel_arn(&lobby)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .update_signaling_channel()
                .channel_arn(&lobby)
                .current_version("v1")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .delete_signaling_channel()
                .channel_arn(&lobby)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .tag_resource()
                .resource_arn(&lobby)
                .tags(tag("a", "b"))
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &doors
                .list_tags_for_resource()
                .resource_arn(&lobby)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
    ];
    for (i, c) in denied.iter().enumerate() {
        assert_eq!(c, "AccessDeniedException", "case {i}");
    }
    // Listings only show the key's channels.
    let listed = doors.list_signaling_channels().send().await.unwrap();
    let names: Vec<_> = listed.channel_info_list().iter().filter_map(|c| c.channel_name()).collect();
    assert_eq!(names, ["door-1"]);
    admin.describe_signaling_channel().channel_arn(&lobby).send().await.unwrap();

    // An operation outside the key's list is refused by the authentication layer.
    let reader = srv.kvs_as("reader", "reader-secret", "us-east-1");
    reader.describe_signaling_channel().channel_arn(&lobby).send().await.unwrap();
    assert_eq!(reader.list_signaling_channels().send().await.unwrap().channel_info_list().len(), 2);
    let no_create = reader.create_signaling_channel().channel_name("x").send().await.unwrap_err();
    assert_eq!(code(&no_create.into_service_error()), "AccessDeniedException");
    let no_endpoint = reader.get_signaling_channel_endpoint().channel_arn(&lobby).send().await.unwrap_err();
    assert_eq!(code(&no_endpoint.into_service_error()), "AccessDeniedException");
    srv.stop().await;
}
