//! The analysis configuration operations of the `kinesisvideo` control plane
//! (Update/DescribeImageGenerationConfiguration, Update/DescribeNotificationConfiguration) driven by
//! the official aws-sdk-rust client, and by hand-signed JSON where the SDK refuses to send a
//! request (missing required members), against a real server on SQLite and (with
//! TEST_DATABASE_URL) Postgres: round trips, deletion, every validation error with its AWS code,
//! unknown streams, NoDataRetention, DeleteStream cascades and key policies.

mod common;

use std::time::SystemTime;

use aws_sdk_kinesisvideo::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideo::types::{
    ConfigurationStatus, Format, FormatConfigKey, ImageGenerationConfiguration,
    ImageGenerationDestinationConfig, ImageSelectorType, NotificationConfiguration,
    NotificationDestinationConfig,
};
use common::{Backend, RawResponse, TestServer, raw_request, signed_json_post};
use openkvs::auth::KeyConfig;
use serde_json::{Value, json};

backend_tests!(index_only:
    image_generation_round_trip_and_deletion,
    notification_round_trip_and_deletion,
    image_generation_validation_errors,
    notification_validation_errors,
    unknown_streams_are_not_found,
    streams_without_retention_are_refused,
    delete_stream_takes_the_configurations_along,
    key_policies_deny_other_streams_and_operations,
);

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

fn destination(uri: &str, region: &str) -> ImageGenerationDestinationConfig {
    ImageGenerationDestinationConfig::builder().uri(uri).destination_region(region).build().unwrap()
}

/// A complete, valid configuration (every optional member set).
fn full_image_config() -> ImageGenerationConfiguration {
    ImageGenerationConfiguration::builder()
        .status(ConfigurationStatus::Enabled)
        .image_selector_type(ImageSelectorType::ProducerTimestamp)
        .destination_config(destination("s3://thumbs/cam-1", "us-east-1"))
        .sampling_interval(3000)
        .format(Format::Jpeg)
        .format_config(FormatConfigKey::JpegQuality, "90")
        .width_pixels(640)
        .height_pixels(360)
        .build()
        .unwrap()
}

fn notification(status: ConfigurationStatus, uri: &str) -> NotificationConfiguration {
    NotificationConfiguration::builder()
        .status(status)
        .destination_config(NotificationDestinationConfig::builder().uri(uri).build().unwrap())
        .build()
        .unwrap()
}

async fn create(kvs: &aws_sdk_kinesisvideo::Client, name: &str, retention_hours: i32) -> String {
    kvs.create_stream()
        .stream_name(name)
        .data_retention_in_hours(retention_hours)
        .send()
        .await
        .unwrap()
        .stream_arn
        .unwrap()
}

/// A hand-signed POST with the development key.
async fn raw(srv: &TestServer, path: &str, body: &Value) -> RawResponse {
    let req = signed_json_post(
        srv.addr,
        path,
        &body.to_string(),
        "kinesisvideo",
        "openkvs",
        "openkvs-secret",
        SystemTime::now(),
    );
    raw_request(srv.addr, &req).await
}

/// Asserts a 400 `InvalidArgumentException` whose message names `needle`.
fn assert_invalid(r: &RawResponse, needle: &str, case: &str) {
    assert_eq!(
        (r.status, r.header("x-amzn-ErrorType")),
        (400, Some("InvalidArgumentException")),
        "{case}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(needle), "{case}: message {message:?} should mention {needle:?}");
}

async fn image_generation_round_trip_and_deletion(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "cam-1", 24).await;
    let none = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(none.image_generation_configuration(), None);
    let body = raw(&srv, "/describeImageGenerationConfiguration", &json!({ "StreamName": "cam-1" })).await;
    assert_eq!((body.status, body.json()), (200, json!({})), "no member at all when none is set");

    kvs.update_image_generation_configuration()
        .stream_name("cam-1")
        .image_generation_configuration(full_image_config())
        .send()
        .await
        .unwrap();
    let got = kvs.describe_image_generation_configuration().stream_arn(&arn).send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), Some(&full_image_config()));
    let body = raw(&srv, "/describeImageGenerationConfiguration", &json!({ "StreamARN": arn })).await;
    assert_eq!(
        body.json(),
        json!({ "ImageGenerationConfiguration": {
            "Status": "ENABLED",
            "ImageSelectorType": "PRODUCER_TIMESTAMP",
            "DestinationConfig": { "Uri": "s3://thumbs/cam-1", "DestinationRegion": "us-east-1" },
            "SamplingInterval": 3000,
            "Format": "JPEG",
            "FormatConfig": { "JPEGQuality": "90" },
            "WidthPixels": 640,
            "HeightPixels": 360,
        }}),
        "the wire shape"
    );

    // Replaced as a whole: unset optional members disappear. A file:// destination (openkvs's
    // extension: a directory under its image root) is stored and reported as given.
    let minimal = ImageGenerationConfiguration::builder()
        .status(ConfigurationStatus::Disabled)
        .image_selector_type(ImageSelectorType::ServerTimestamp)
        .destination_config(destination("file://thumbs/cam-1", "us-east-1"))
        .sampling_interval(200)
        .format(Format::Png)
        .build()
        .unwrap();
    kvs.update_image_generation_configuration()
        .stream_arn(&arn)
        .image_generation_configuration(minimal.clone())
        .send()
        .await
        .unwrap();
    let got = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), Some(&minimal));

    // No member deletes (the SDK omits it); so does an explicit null.
    kvs.update_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    let got = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), None);
    kvs.update_image_generation_configuration()
        .stream_name("cam-1")
        .image_generation_configuration(minimal)
        .send()
        .await
        .unwrap();
    let r = raw(
        &srv,
        "/updateImageGenerationConfiguration",
        &json!({ "StreamName": "cam-1", "ImageGenerationConfiguration": null }),
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    let got = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), None);
    // Deleting when there is nothing to delete is fine.
    kvs.update_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    srv.stop().await;
}

async fn notification_round_trip_and_deletion(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "cam-1", 1).await;
    let none = kvs.describe_notification_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(none.notification_configuration(), None);
    let body = raw(&srv, "/describeNotificationConfiguration", &json!({ "StreamName": "cam-1" })).await;
    assert_eq!((body.status, body.json()), (200, json!({})));

    for (status, uri) in [
        (ConfigurationStatus::Enabled, "https://hooks.example.com/kvs?token=abc"),
        (ConfigurationStatus::Enabled, "nats://kvs.cam-1.images"),
        (ConfigurationStatus::Disabled, "arn:aws:sns:us-east-1:123456789012:kvs-images"),
        (ConfigurationStatus::Enabled, "http://127.0.0.1:9000/hook"),
    ] {
        kvs.update_notification_configuration()
            .stream_arn(&arn)
            .notification_configuration(notification(status.clone(), uri))
            .send()
            .await
            .unwrap();
        let got = kvs.describe_notification_configuration().stream_name("cam-1").send().await.unwrap();
        assert_eq!(got.notification_configuration(), Some(&notification(status, uri)), "{uri}");
    }
    let body = raw(&srv, "/describeNotificationConfiguration", &json!({ "StreamARN": arn })).await;
    assert_eq!(
        body.json(),
        json!({ "NotificationConfiguration": {
            "Status": "ENABLED",
            "DestinationConfig": { "Uri": "http://127.0.0.1:9000/hook" },
        }})
    );

    kvs.update_notification_configuration().stream_name("cam-1").send().await.unwrap();
    let got = kvs.describe_notification_configuration().stream_arn(&arn).send().await.unwrap();
    assert_eq!(got.notification_configuration(), None);
    kvs.update_notification_configuration()
        .stream_name("cam-1")
        .notification_configuration(notification(ConfigurationStatus::Enabled, "nats://x"))
        .send()
        .await
        .unwrap();
    let r = raw(
        &srv,
        "/updateNotificationConfiguration",
        &json!({ "StreamName": "cam-1", "NotificationConfiguration": null }),
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    let got = kvs.describe_notification_configuration().stream_arn(&arn).send().await.unwrap();
    assert_eq!(got.notification_configuration(), None);
    srv.stop().await;
}

/// A valid `ImageGenerationConfiguration` as JSON, with `edit` applied.
fn image_json(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = json!({
        "Status": "ENABLED",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "DestinationConfig": { "Uri": "s3://bucket/prefix", "DestinationRegion": "us-east-1" },
        "SamplingInterval": 1000,
        "Format": "JPEG",
    });
    edit(&mut v);
    v
}

async fn image_generation_validation_errors(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    create(&kvs, "cam-1", 24).await;
    let remove = |k: &'static str| {
        move |v: &mut Value| {
            v.as_object_mut().unwrap().remove(k);
        }
    };
    let remove_dest = |k: &'static str| {
        move |v: &mut Value| {
            v["DestinationConfig"].as_object_mut().unwrap().remove(k);
        }
    };
    let set = |k: &'static str, x: Value| move |v: &mut Value| v[k] = x;
    let set_dest =
        |k: &'static str, x: &'static str| move |v: &mut Value| v["DestinationConfig"][k] = json!(x);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no Status", image_json(remove("Status")), "imageGenerationConfiguration.status"),
        ("no ImageSelectorType", image_json(remove("ImageSelectorType")), "imageSelectorType"),
        ("no DestinationConfig", image_json(remove("DestinationConfig")), "destinationConfig"),
        ("no Uri", image_json(remove_dest("Uri")), "destinationConfig.uri"),
        ("no DestinationRegion", image_json(remove_dest("DestinationRegion")), "destinationRegion"),
        ("no SamplingInterval", image_json(remove("SamplingInterval")), "samplingInterval"),
        ("no Format", image_json(remove("Format")), "imageGenerationConfiguration.format"),
        ("bad Status", image_json(set("Status", json!("ON"))), "ENABLED, DISABLED"),
        ("bad selector", image_json(set("ImageSelectorType", json!("NOW"))), "PRODUCER_TIMESTAMP"),
        ("bad Format", image_json(set("Format", json!("GIF"))), "JPEG, PNG"),
        ("interval 199", image_json(set("SamplingInterval", json!(199))), "samplingInterval"),
        ("interval < 0", image_json(set("SamplingInterval", json!(-1))), "samplingInterval"),
        ("width 0", image_json(set("WidthPixels", json!(0))), "widthPixels"),
        ("width 3841", image_json(set("WidthPixels", json!(3841))), "widthPixels"),
        ("height 0", image_json(set("HeightPixels", json!(0))), "heightPixels"),
        ("height 2161", image_json(set("HeightPixels", json!(2161))), "heightPixels"),
        ("empty FormatConfig", image_json(set("FormatConfig", json!({}))), "formatConfig"),
        ("FormatConfig key", image_json(set("FormatConfig", json!({ "Quality": "80" }))), "JPEGQuality"),
        (
            "two FormatConfig keys",
            image_json(set("FormatConfig", json!({ "JPEGQuality": "80", "X": "1" }))),
            "formatConfig",
        ),
        ("quality 0", image_json(set("FormatConfig", json!({ "JPEGQuality": "0" }))), "JPEGQuality"),
        ("quality 101", image_json(set("FormatConfig", json!({ "JPEGQuality": "101" }))), "JPEGQuality"),
        ("quality text", image_json(set("FormatConfig", json!({ "JPEGQuality": "high" }))), "JPEGQuality"),
        ("empty Uri", image_json(set_dest("Uri", "")), "destinationConfig.uri"),
        ("Uri without scheme", image_json(set_dest("Uri", "bucket/prefix")), "regular expression"),
        ("Uri with * in the path", image_json(set_dest("Uri", "s3://bucket/a*b")), "regular expression"),
        ("Uri with ..", image_json(set_dest("Uri", "s3://bucket/../../etc")), "'..'"),
        ("Uri bucket ..", image_json(set_dest("Uri", "s3://..")), "'..'"),
        ("Uri empty segment", image_json(set_dest("Uri", "s3://bucket/a//b")), "empty path segments"),
        ("Uri bucket name", image_json(set_dest("Uri", "s3://My_Bucket/p")), "valid S3 bucket"),
        ("Uri file ..", image_json(set_dest("Uri", "file://thumbs/../../etc")), "'..'"),
        ("Uri other scheme", image_json(set_dest("Uri", "https://example.com/images")), "not supported"),
        ("Uri SNS", image_json(set_dest("Uri", "arn:aws:sns:us-east-1:1:t")), "not supported"),
        ("region pattern", image_json(set_dest("DestinationRegion", "us-east-one")), "destinationRegion"),
        ("region length", image_json(set_dest("DestinationRegion", "x-y-1")), "destinationRegion"),
        ("other region", image_json(set_dest("DestinationRegion", "eu-west-1")), "Region of the stream"),
    ];
    for (case, config, needle) in cases {
        let body = json!({ "StreamName": "cam-1", "ImageGenerationConfiguration": config });
        let r = raw(&srv, "/updateImageGenerationConfiguration", &body).await;
        assert_invalid(&r, needle, case);
    }
    // 255 characters: the longest URI, with a bucket name S3 accepts.
    let long_uri = format!("s3://bucket/{}", "p".repeat(243));
    let r = raw(
        &srv,
        "/updateImageGenerationConfiguration",
        &json!({ "StreamName": "cam-1", "ImageGenerationConfiguration": image_json(set_dest("Uri", "x")) }),
    )
    .await;
    assert_invalid(&r, "regular expression", "Uri x");
    let mut too_long = image_json(|_| {});
    too_long["DestinationConfig"]["Uri"] = json!(format!("{long_uri}b"));
    let r = raw(
        &srv,
        "/updateImageGenerationConfiguration",
        &json!({ "StreamName": "cam-1", "ImageGenerationConfiguration": too_long }),
    )
    .await;
    assert_invalid(&r, "length between 1 and 255", "Uri of 256 characters");

    // The stream reference, as every stream operation checks it.
    let config = image_json(|_| {});
    for (case, body) in [
        ("neither", json!({ "ImageGenerationConfiguration": config })),
        (
            "both",
            json!({ "StreamName": "cam-1", "StreamARN": "arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/1", "ImageGenerationConfiguration": config }),
        ),
        ("bad name", json!({ "StreamName": "cam 1", "ImageGenerationConfiguration": config })),
        ("bad ARN", json!({ "StreamARN": "arn:nope", "ImageGenerationConfiguration": config })),
    ] {
        let r = raw(&srv, "/updateImageGenerationConfiguration", &body).await;
        assert_invalid(&r, "", case);
        let r = raw(&srv, "/describeImageGenerationConfiguration", &body).await;
        assert_invalid(&r, "", case);
    }

    // The same refusals reach the SDK as InvalidArgumentException; nothing was stored.
    let bad = ImageGenerationConfiguration::builder()
        .status(ConfigurationStatus::Enabled)
        .image_selector_type(ImageSelectorType::ServerTimestamp)
        .destination_config(destination("s3://bucket", "us-east-1"))
        .sampling_interval(100)
        .format(Format::Png)
        .build()
        .unwrap();
    let e = kvs
        .update_image_generation_configuration()
        .stream_name("cam-1")
        .image_generation_configuration(bad)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_argument_exception(), "{e:?}");
    let got = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), None);
    // The boundaries themselves are accepted.
    let edge = image_json(|v| {
        v["SamplingInterval"] = json!(200);
        v["WidthPixels"] = json!(3840);
        v["HeightPixels"] = json!(1);
        v["FormatConfig"] = json!({ "JPEGQuality": "1" });
        v["DestinationConfig"]["Uri"] = json!(long_uri);
    });
    let r = raw(
        &srv,
        "/updateImageGenerationConfiguration",
        &json!({ "StreamName": "cam-1", "ImageGenerationConfiguration": edge }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    srv.stop().await;
}

async fn notification_validation_errors(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    create(&kvs, "cam-1", 24).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no Status",
            json!({ "DestinationConfig": { "Uri": "nats://x" } }),
            "notificationConfiguration.status",
        ),
        (
            "no DestinationConfig",
            json!({ "Status": "ENABLED" }),
            "notificationConfiguration.destinationConfig",
        ),
        ("no Uri", json!({ "Status": "ENABLED", "DestinationConfig": {} }), "destinationConfig.uri"),
        ("bad Status", json!({ "Status": "enabled", "DestinationConfig": { "Uri": "nats://x" } }), "ENABLED"),
        ("empty Uri", json!({ "Status": "ENABLED", "DestinationConfig": { "Uri": "" } }), "length"),
        (
            "Uri without scheme",
            json!({ "Status": "ENABLED", "DestinationConfig": { "Uri": "hooks.example.com/x" } }),
            "regular expression",
        ),
        (
            "Uri with * in the path",
            json!({ "Status": "ENABLED", "DestinationConfig": { "Uri": "https://h/a*" } }),
            "regular expression",
        ),
        (
            "Uri of 256 characters",
            json!({ "Status": "ENABLED", "DestinationConfig": { "Uri": format!("https://{}", "h".repeat(248)) } }),
            "length between 1 and 255",
        ),
    ];
    for (case, config, needle) in cases {
        let body = json!({ "StreamName": "cam-1", "NotificationConfiguration": config });
        let r = raw(&srv, "/updateNotificationConfiguration", &body).await;
        assert_invalid(&r, needle, case);
    }
    for (case, body) in [
        ("neither", json!({})),
        (
            "both",
            json!({ "StreamName": "cam-1", "StreamARN": "arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-1/1" }),
        ),
    ] {
        let r = raw(&srv, "/updateNotificationConfiguration", &body).await;
        assert_invalid(&r, "", case);
        let r = raw(&srv, "/describeNotificationConfiguration", &body).await;
        assert_invalid(&r, "", case);
    }
    let e = kvs
        .update_notification_configuration()
        .stream_name("cam-1")
        .notification_configuration(notification(ConfigurationStatus::Enabled, "no-scheme"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_argument_exception(), "{e:?}");
    let got = kvs.describe_notification_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.notification_configuration(), None);
    srv.stop().await;
}

async fn unknown_streams_are_not_found(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = "arn:aws:kinesisvideo:us-east-1:000000000000:stream/ghost/1700000000000";
    let codes = [
        code(
            &kvs.describe_image_generation_configuration()
                .stream_name("ghost")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.describe_image_generation_configuration()
                .stream_arn(arn)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.update_image_generation_configuration()
                .stream_name("ghost")
                .image_generation_configuration(full_image_config())
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.update_image_generation_configuration()
                .stream_arn(arn)
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.describe_notification_configuration()
                .stream_name("ghost")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.update_notification_configuration()
                .stream_arn(arn)
                .notification_configuration(notification(ConfigurationStatus::Enabled, "nats://x"))
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
        code(
            &kvs.update_notification_configuration()
                .stream_name("ghost")
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
        ),
    ];
    assert!(codes.iter().all(|c| c == "ResourceNotFoundException"), "{codes:?}");
    // Streams are per region: the same name elsewhere is not found either.
    create(&kvs, "cam-1", 1).await;
    let west = srv.kvs_as("openkvs", "openkvs-secret", "eu-west-1");
    let e = west
        .describe_notification_configuration()
        .stream_name("cam-1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    srv.stop().await;
}

async fn streams_without_retention_are_refused(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    create(&kvs, "live-only", 0).await;
    let e = kvs
        .update_image_generation_configuration()
        .stream_name("live-only")
        .image_generation_configuration(full_image_config())
        .send()
        .await
        .unwrap_err();
    let status = e.raw_response().map(|r| r.status().as_u16());
    assert_eq!((code(&e.into_service_error()), status), ("NoDataRetentionException".into(), Some(400)));
    let e = kvs
        .update_notification_configuration()
        .stream_name("live-only")
        .notification_configuration(notification(ConfigurationStatus::Enabled, "nats://x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "NoDataRetentionException");
    // Deleting and describing still work.
    kvs.update_image_generation_configuration().stream_name("live-only").send().await.unwrap();
    kvs.update_notification_configuration().stream_name("live-only").send().await.unwrap();
    let got = kvs.describe_image_generation_configuration().stream_name("live-only").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), None);
    srv.stop().await;
}

async fn delete_stream_takes_the_configurations_along(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let kvs = srv.kvs();
    let arn = create(&kvs, "cam-1", 24).await;
    kvs.update_image_generation_configuration()
        .stream_name("cam-1")
        .image_generation_configuration(full_image_config())
        .send()
        .await
        .unwrap();
    kvs.update_notification_configuration()
        .stream_name("cam-1")
        .notification_configuration(notification(ConfigurationStatus::Enabled, "https://h/x"))
        .send()
        .await
        .unwrap();
    kvs.delete_stream().stream_arn(&arn).send().await.unwrap();
    let e = kvs
        .describe_image_generation_configuration()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");

    let again = create(&kvs, "cam-1", 24).await;
    assert_ne!(again, arn);
    let got = kvs.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), None, "the new stream starts without one");
    let got = kvs.describe_notification_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.notification_configuration(), None);
    srv.stop().await;
}

async fn key_policies_deny_other_streams_and_operations(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.auth.keys.push(KeyConfig {
            access_key_id: "cams".into(),
            secret_access_key: "cams-secret".into(),
            operations: None,
            streams: Some(vec!["cam-*".into()]),
        });
        c.auth.keys.push(KeyConfig {
            access_key_id: "viewer".into(),
            secret_access_key: "viewer-secret".into(),
            operations: Some(vec![
                "DescribeImageGenerationConfiguration".into(),
                "DescribeNotificationConfiguration".into(),
            ]),
            streams: None,
        });
    })
    .await;
    let admin = srv.kvs();
    create(&admin, "cam-1", 24).await;
    create(&admin, "lobby", 24).await;

    let cams = srv.kvs_as("cams", "cams-secret", "us-east-1");
    cams.update_image_generation_configuration()
        .stream_name("cam-1")
        .image_generation_configuration(full_image_config())
        .send()
        .await
        .unwrap();
    cams.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    cams.update_notification_configuration()
        .stream_name("cam-1")
        .notification_configuration(notification(ConfigurationStatus::Enabled, "nats://cams"))
        .send()
        .await
        .unwrap();

    // Outside the key's globs: AccessDeniedException (401, the model's code for these
    // operations), decided before the lookup, so an unknown name answers the same.
    for name in ["lobby", "no-such-stream"] {
        let e = cams
            .update_image_generation_configuration()
            .stream_name(name)
            .image_generation_configuration(full_image_config())
            .send()
            .await
            .unwrap_err();
        let status = e.raw_response().map(|r| r.status().as_u16());
        assert_eq!(
            (code(&e.into_service_error()), status),
            ("AccessDeniedException".into(), Some(401)),
            "{name}"
        );
        let codes = [
            code(
                &cams
                    .describe_image_generation_configuration()
                    .stream_name(name)
                    .send()
                    .await
                    .unwrap_err()
                    .into_service_error(),
            ),
            code(
                &cams
                    .update_notification_configuration()
                    .stream_name(name)
                    .send()
                    .await
                    .unwrap_err()
                    .into_service_error(),
            ),
            code(
                &cams
                    .describe_notification_configuration()
                    .stream_name(name)
                    .send()
                    .await
                    .unwrap_err()
                    .into_service_error(),
            ),
        ];
        assert!(codes.iter().all(|c| c == "AccessDeniedException"), "{name}: {codes:?}");
    }
    // The globs apply to ARNs too.
    let lobby_arn = admin.describe_stream().stream_name("lobby").send().await.unwrap().stream_info.unwrap();
    let e = cams
        .describe_notification_configuration()
        .stream_arn(lobby_arn.stream_arn().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "AccessDeniedException");

    // A key limited to the Describe operations reads but cannot update.
    let viewer = srv.kvs_as("viewer", "viewer-secret", "us-east-1");
    let got = viewer.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(got.image_generation_configuration(), Some(&full_image_config()));
    let got = viewer.describe_notification_configuration().stream_name("cam-1").send().await.unwrap();
    assert_eq!(
        got.notification_configuration(),
        Some(&notification(ConfigurationStatus::Enabled, "nats://cams"))
    );
    let e = viewer
        .update_image_generation_configuration()
        .stream_name("cam-1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "AccessDeniedException");
    let e = viewer
        .update_notification_configuration()
        .stream_name("cam-1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "AccessDeniedException");
    // Nothing was deleted by the refused calls.
    let got = admin.describe_image_generation_configuration().stream_name("cam-1").send().await.unwrap();
    assert!(got.image_generation_configuration().is_some());
    srv.stop().await;
}
