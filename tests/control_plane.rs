//! The `kinesisvideo` control plane driven by the official aws-sdk-rust client against a real
//! server, on SQLite and (with TEST_DATABASE_URL) Postgres: lifecycle, paging, validation errors.

mod common;

use std::collections::HashMap;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideo::types::{
    ApiName, ComparisonOperator, Status as StreamStatus, StreamNameCondition, Tag,
    UpdateDataRetentionOperation,
};
use common::{Backend, TestServer};

backend_tests!(index_only:
    full_lifecycle,
    listing_pages_by_prefix,
    invalid_inputs_are_rejected_like_the_model,
    unknown_streams_are_not_found,
    tag_limits_are_enforced,
    streams_are_scoped_by_region,
);

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

async fn full_lifecycle(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = kvs
        .create_stream()
        .stream_name("cam-1")
        .device_name("dev-1")
        .media_type("video/h264")
        .data_retention_in_hours(2)
        .tags("site", "lab")
        .send()
        .await
        .unwrap()
        .stream_arn
        .unwrap();
    assert!(arn.starts_with("arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/"), "{arn}");

    let info = kvs.describe_stream().stream_name("cam-1").send().await.unwrap().stream_info.unwrap();
    assert_eq!(info.stream_arn(), Some(arn.as_str()));
    assert_eq!(info.status(), Some(&StreamStatus::Active));
    assert_eq!(info.data_retention_in_hours(), Some(2));
    assert_eq!(info.device_name(), Some("dev-1"));
    assert_eq!(info.media_type(), Some("video/h264"));
    assert_eq!(info.kms_key_id(), Some("arn:aws:kms:us-east-1:000000000000:alias/aws/kinesisvideo"));
    let created = info.creation_time().unwrap().secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - created).abs() < 60, "creation time {created} vs now {now}");
    let by_arn = kvs.describe_stream().stream_arn(&arn).send().await.unwrap().stream_info.unwrap();
    assert_eq!(by_arn.stream_name(), Some("cam-1"));

    let dup = kvs.create_stream().stream_name("cam-1").send().await.unwrap_err().into_service_error();
    assert!(dup.is_resource_in_use_exception(), "{dup:?}");

    let v1 = info.version().unwrap().to_owned();
    kvs.update_data_retention()
        .stream_name("cam-1")
        .current_version(&v1)
        .operation(UpdateDataRetentionOperation::IncreaseDataRetention)
        .data_retention_change_in_hours(5)
        .send()
        .await
        .unwrap();
    let info2 = kvs.describe_stream().stream_name("cam-1").send().await.unwrap().stream_info.unwrap();
    assert_eq!(info2.data_retention_in_hours(), Some(7));
    let v2 = info2.version().unwrap().to_owned();
    assert_ne!(v1, v2);

    let stale = kvs.update_stream().stream_name("cam-1").current_version(&v1).device_name("x").send().await;
    assert!(stale.unwrap_err().into_service_error().is_version_mismatch_exception());
    kvs.update_stream()
        .stream_arn(&arn)
        .current_version(&v2)
        .device_name("dev-2")
        .media_type("video/h265")
        .send()
        .await
        .unwrap();
    let info3 = kvs.describe_stream().stream_name("cam-1").send().await.unwrap().stream_info.unwrap();
    assert_eq!((info3.device_name(), info3.media_type()), (Some("dev-2"), Some("video/h265")));

    let below_zero = kvs
        .update_data_retention()
        .stream_name("cam-1")
        .current_version(info3.version().unwrap())
        .operation(UpdateDataRetentionOperation::DecreaseDataRetention)
        .data_retention_change_in_hours(8)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(below_zero.is_invalid_argument_exception(), "{below_zero:?}");

    kvs.tag_stream().stream_name("cam-1").tags("owner", "ops").tags("site", "hq").send().await.unwrap();
    let tags = kvs.list_tags_for_stream().stream_arn(&arn).send().await.unwrap().tags.unwrap();
    assert_eq!(tags, HashMap::from([("site".into(), "hq".into()), ("owner".into(), "ops".into())]));
    kvs.untag_stream().stream_name("cam-1").tag_key_list("site").tag_key_list("absent").send().await.unwrap();
    kvs.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("video").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = kvs.list_tags_for_resource().resource_arn(&arn).send().await.unwrap().tags.unwrap();
    assert_eq!(tags, HashMap::from([("owner".into(), "ops".into()), ("team".into(), "video".into())]));
    kvs.untag_resource().resource_arn(&arn).tag_key_list("owner").send().await.unwrap();
    let tags = kvs.list_tags_for_stream().stream_name("cam-1").send().await.unwrap().tags.unwrap();
    assert_eq!(tags.len(), 1);

    for api in [
        ApiName::PutMedia,
        ApiName::GetMedia,
        ApiName::ListFragments,
        ApiName::GetMediaForFragmentList,
        ApiName::GetHlsStreamingSessionUrl,
        ApiName::GetDashStreamingSessionUrl,
        ApiName::GetClip,
        ApiName::GetImages,
    ] {
        let ep = kvs.get_data_endpoint().stream_name("cam-1").api_name(api).send().await.unwrap();
        assert_eq!(ep.data_endpoint(), Some(srv.endpoint.as_str()));
    }

    let storage = kvs.describe_stream_storage_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(storage.stream_storage_configuration().unwrap().default_storage_tier().as_str(), "HOT");
    let mapped = kvs.describe_mapped_resource_configuration().stream_name("cam-1").send().await.unwrap();
    assert!(mapped.mapped_resource_configuration_list().is_empty());

    let current = kvs.describe_stream().stream_name("cam-1").send().await.unwrap().stream_info.unwrap();
    let wrong = kvs.delete_stream().stream_arn(&arn).current_version("nope0").send().await;
    assert!(wrong.unwrap_err().into_service_error().is_version_mismatch_exception());
    kvs.delete_stream().stream_arn(&arn).current_version(current.version().unwrap()).send().await.unwrap();
    let gone = kvs.describe_stream().stream_name("cam-1").send().await.unwrap_err().into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
    // The name is free again.
    kvs.create_stream().stream_name("cam-1").send().await.unwrap();
    srv.stop().await;
}

async fn listing_pages_by_prefix(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    for name in ["a-1", "a-2", "a-3", "a-4", "a-5", "b-1", "A-9", "a_x"] {
        kvs.create_stream().stream_name(name).send().await.unwrap();
    }
    let cond = StreamNameCondition::builder()
        .comparison_operator(ComparisonOperator::BeginsWith)
        .comparison_value("a-")
        .build();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = kvs
            .list_streams()
            .max_results(2)
            .stream_name_condition(cond.clone())
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.stream_info_list().len() <= 2);
        names.extend(page.stream_info_list().iter().map(|s| s.stream_name().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["a-1", "a-2", "a-3", "a-4", "a-5"], "prefix match is case-sensitive and exact");
    assert_eq!(pages, 3);
    let all = kvs.list_streams().send().await.unwrap();
    assert_eq!(all.stream_info_list().len(), 8);
    assert!(all.next_token().is_none());
    let bad = kvs.list_streams().next_token("not-a-token!").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&bad), "InvalidArgumentException");
    for max in [0, 10_001] {
        let e = kvs.list_streams().max_results(max).send().await.unwrap_err().into_service_error();
        assert_eq!(code(&e), "InvalidArgumentException", "MaxResults {max}");
    }
    srv.stop().await;
}

async fn invalid_inputs_are_rejected_like_the_model(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let cases = [
        kvs.create_stream().stream_name("bad name!").send().await.map(|_| ()),
        kvs.create_stream().stream_name("x".repeat(257)).send().await.map(|_| ()),
        kvs.create_stream().stream_name("neg").data_retention_in_hours(-1).send().await.map(|_| ()),
        kvs.create_stream().stream_name("big").data_retention_in_hours(87_601).send().await.map(|_| ()),
        kvs.create_stream().stream_name("mt").media_type("video").send().await.map(|_| ()),
        kvs.create_stream().stream_name("dev").device_name("a b").send().await.map(|_| ()),
        kvs.create_stream().stream_name("tag").tags("k".repeat(129), "v").send().await.map(|_| ()),
    ];
    for (i, r) in cases.into_iter().enumerate() {
        let e = r.unwrap_err().into_service_error();
        assert_eq!(code(&e), "InvalidArgumentException", "case {i}: {e:?}");
    }
    kvs.create_stream().stream_name("ok").data_retention_in_hours(87_600).send().await.unwrap();
    let both = kvs
        .describe_stream()
        .stream_name("ok")
        .stream_arn("arn:aws:kinesisvideo:us-east-1:000000000000:stream/ok/1");
    assert_eq!(code(&both.send().await.unwrap_err().into_service_error()), "InvalidArgumentException");
    let neither = kvs.describe_stream().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&neither), "InvalidArgumentException");
    let bad_arn = kvs.describe_stream().stream_arn("arn:nope").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&bad_arn), "InvalidArgumentException");
    let bad_tag_arn = kvs.tag_stream().stream_arn("arn:nope").tags("a", "b").send().await.unwrap_err();
    assert_eq!(code(&bad_tag_arn.into_service_error()), "InvalidResourceFormatException");
    let no_version = kvs.update_stream().stream_name("ok").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&no_version), "InvalidArgumentException");
    let no_api = kvs.get_data_endpoint().stream_name("ok").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&no_api), "InvalidArgumentException");
    let bad_api = kvs
        .get_data_endpoint()
        .stream_name("ok")
        .api_name(ApiName::from("PUT_SOMETHING"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&bad_api), "InvalidArgumentException");
    srv.stop().await;
}

async fn unknown_streams_are_not_found(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/ghost/1";
    let errs = [
        code(&kvs.describe_stream().stream_name("ghost").send().await.unwrap_err().into_service_error()),
        code(&kvs.describe_stream().stream_arn(arn).send().await.unwrap_err().into_service_error()),
        code(&kvs.delete_stream().stream_arn(arn).send().await.unwrap_err().into_service_error()),
        code(
            &kvs.get_data_endpoint()
                .stream_name("ghost")
                .api_name(ApiName::PutMedia)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.tag_stream()
                .stream_name("ghost")
                .tags("a", "b")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(&kvs.list_tags_for_resource().resource_arn(arn).send().await.unwrap_err().into_service_error()),
        code(
            &kvs.update_stream()
                .stream_name("ghost")
                .current_version("v1")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
    ];
    for (i, c) in errs.iter().enumerate() {
        assert_eq!(c, "ResourceNotFoundException", "case {i}");
    }
    // The C producer creates the stream on the HTTP status alone: DescribeStream must be 404.
    let raw = kvs.describe_stream().stream_name("ghost").send().await.unwrap_err();
    let status = raw.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(404));
    srv.stop().await;
}

async fn tag_limits_are_enforced(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    kvs.create_stream().stream_name("t").send().await.unwrap();
    let mut req = kvs.tag_stream().stream_name("t");
    for i in 0..45 {
        req = req.tags(format!("k{i}"), "v");
    }
    req.send().await.unwrap();
    let mut over = kvs.tag_stream().stream_name("t");
    for i in 40..50 {
        over = over.tags(format!("k{i}"), "v"); // 5 overwrite, 5 new: exactly 50
    }
    over.send().await.unwrap();
    let e = kvs
        .tag_stream()
        .stream_name("t")
        .tags("one-more", "v")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_tags_per_resource_exceeded_limit_exception(), "{e:?}");
    assert_eq!(kvs.list_tags_for_stream().stream_name("t").send().await.unwrap().tags.unwrap().len(), 50);
    let e = kvs.untag_stream().stream_name("t").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "InvalidArgumentException");
    srv.stop().await;
}

async fn streams_are_scoped_by_region(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let east = srv.kvs();
    let west = srv.kvs_as("openkvs", "openkvs-secret", "us-west-2");
    let a = east.create_stream().stream_name("same").send().await.unwrap().stream_arn.unwrap();
    let b = west.create_stream().stream_name("same").send().await.unwrap().stream_arn.unwrap();
    assert!(a.contains(":us-east-1:") && b.contains(":us-west-2:"), "{a} {b}");
    assert_eq!(west.list_streams().send().await.unwrap().stream_info_list().len(), 1);
    let info = west.describe_stream().stream_name("same").send().await.unwrap().stream_info.unwrap();
    assert_eq!(info.stream_arn(), Some(b.as_str()));
    srv.stop().await;
}
