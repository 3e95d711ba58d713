//! GetImages end to end with the official aws-sdk-rust archived-media client on both index
//! backends: JPEG and PNG images that decode (with the `image` crate) to the requested size under
//! every WidthPixels/HeightPixels combination, one image per sampling interval at the right
//! TimeStamps, the right frame for each time (compared with ffmpeg's decoding of the fixture when
//! ffmpeg is installed), NO_MEDIA outside the stream, paging with NextToken, every validation
//! error, MEDIA_ERROR for H.265, NoDataRetentionException, and GetDataEndpoint for GET_IMAGES.

mod common;

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::operation::get_images::builders::GetImagesFluentBuilder;
use aws_sdk_kinesisvideoarchivedmedia::operation::get_images::{GetImagesError, GetImagesOutput};
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    Format, FormatConfigKey, Image, ImageError, ImageSelectorType,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::producer::{PutOptions, now_ms, put_media, split_file};
use common::{Backend, TestServer};

backend_tests!(s3_sample: [each_time_shows_its_frame];
    jpeg_and_png_at_every_size_rule,
    each_time_shows_its_frame,
    paging_no_media_and_server_timestamps,
    validation_errors,
    h265_and_no_retention
);

const H264: &str = "h264_640x360_20s_2sgop.mkv";
const FPS: i64 = 25;

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Creates `stream` and ingests a fixture with RELATIVE timecodes from a producer start time in
/// the past (a whole second); returns that start, epoch ms. Fragment n then starts at
/// `start + 2000 n` on the producer timeline (the fixtures have 2 s clusters).
async fn ingest(srv: &TestServer, stream: &str, file: &str, retention: i32) -> i64 {
    srv.kvs().create_stream().stream_name(stream).data_retention_in_hours(retention).send().await.unwrap();
    let start = (now_ms() as i64 / 1000 - 600) * 1000;
    let (header, items) = split_file(&std::fs::read(fixture_path(file)).unwrap());
    let mut chunks = vec![header];
    chunks.extend(items.into_iter().map(|(_, b)| b));
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE";
    opts.producer_start = Some(format!("{}.000", start / 1000));
    let r = put_media(srv.addr, &opts, &chunks).await;
    assert!(retention == 0 || !r.of("PERSISTED").is_empty(), "ingest of {file}: {:?}", r.acks);
    start
}

/// A GetImages call on producer timestamps from `start` to `end` (ms).
fn images(
    srv: &TestServer,
    stream: &str,
    start: i64,
    end: i64,
    interval: i32,
    format: Format,
) -> GetImagesFluentBuilder {
    srv.archived()
        .get_images()
        .stream_name(stream)
        .image_selector_type(ImageSelectorType::ProducerTimestamp)
        .start_timestamp(DateTime::from_millis(start))
        .end_timestamp(DateTime::from_millis(end))
        .sampling_interval(interval)
        .format(format)
}

/// Epoch ms of a timestamp, rounded: the SDK reads the JSON number of epoch seconds as an f64,
/// so 1795549728.6 comes back as …728.599999.
fn millis(t: &DateTime) -> i64 {
    (t.as_secs_f64() * 1000.0).round() as i64
}

fn times(out: &GetImagesOutput) -> Vec<i64> {
    out.images().iter().map(|i| millis(i.time_stamp().unwrap())).collect()
}

/// Decodes an image's content; asserts its container format.
fn decode(image: &Image, format: image::ImageFormat) -> image::RgbImage {
    let content = image.image_content().unwrap_or_else(|| panic!("no content: {image:?}"));
    let bytes = STANDARD.decode(content).unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), format);
    image::load_from_memory_with_format(&bytes, format).unwrap().to_rgb8()
}

fn error_code(
    r: Result<GetImagesOutput, aws_sdk_kinesisvideoarchivedmedia::error::SdkError<GetImagesError>>,
) -> String {
    let e = r.map(|_| ()).unwrap_err();
    e.as_service_error().and_then(|s| s.code()).unwrap_or("").to_owned()
}

async fn jpeg_and_png_at_every_size_rule(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let ep = srv
        .kvs()
        .get_data_endpoint()
        .stream_name("cam")
        .api_name(aws_sdk_kinesisvideo::types::ApiName::GetImages)
        .send()
        .await;
    assert_eq!(error_code_cp(ep), "ResourceNotFoundException");
    let p = ingest(&srv, "cam", H264, 24).await;
    let ep = srv
        .kvs()
        .get_data_endpoint()
        .stream_name("cam")
        .api_name(aws_sdk_kinesisvideo::types::ApiName::GetImages)
        .send()
        .await
        .unwrap();
    assert_eq!(ep.data_endpoint(), Some(srv.endpoint.as_str()));

    // What the acceptance check asks: 20 s at 2 s, 320 px wide JPEG.
    let out = images(&srv, "cam", p, p + 20_000, 2000, Format::Jpeg).width_pixels(320).send().await.unwrap();
    assert_eq!(times(&out), (0..=10).map(|k| p + 2000 * k).collect::<Vec<_>>());
    assert!(out.next_token().is_none());
    for image in &out.images()[..10] {
        assert!(image.error().is_none(), "{image:?}");
        assert_eq!(decode(image, image::ImageFormat::Jpeg).dimensions(), (320, 180), "aspect ratio kept");
    }
    assert_eq!(out.images()[10].error(), Some(&ImageError::NoMedia), "20 s is past the last frame");
    assert!(out.images()[10].image_content().is_none());

    // Neither: the source size. Both: exactly that size (stretched). PNG.
    let out = images(&srv, "cam", p + 500, p + 500, 3000, Format::Png).send().await.unwrap();
    assert_eq!(times(&out), vec![p + 500]);
    assert_eq!(decode(&out.images()[0], image::ImageFormat::Png).dimensions(), (640, 360));
    let out = images(&srv, "cam", p + 500, p + 500, 3000, Format::Png)
        .width_pixels(100)
        .height_pixels(100)
        .send()
        .await
        .unwrap();
    assert_eq!(decode(&out.images()[0], image::ImageFormat::Png).dimensions(), (100, 100));
    let out = images(&srv, "cam", p, p, 3000, Format::Jpeg)
        .width_pixels(1280)
        .height_pixels(720)
        .send()
        .await
        .unwrap();
    assert_eq!(decode(&out.images()[0], image::ImageFormat::Jpeg).dimensions(), (1280, 720), "upscaled");
    // Only HeightPixels: AWS refuses it ("Height and width ... need to be provided or none").
    let r = images(&srv, "cam", p, p, 3000, Format::Jpeg).height_pixels(90).send().await;
    assert_eq!(error_code(r), "InvalidArgumentException");

    // JPEGQuality: 1 is smaller than 100, the default (80) in between.
    let size =
        |out: GetImagesOutput| STANDARD.decode(out.images()[0].image_content().unwrap()).unwrap().len();
    let q = |v: &'static str| {
        images(&srv, "cam", p + 4000, p + 4000, 3000, Format::Jpeg)
            .format_config(FormatConfigKey::JpegQuality, v)
    };
    let (low, high) = (size(q("1").send().await.unwrap()), size(q("100").send().await.unwrap()));
    let default = size(images(&srv, "cam", p + 4000, p + 4000, 3000, Format::Jpeg).send().await.unwrap());
    assert!(low < default && default < high, "{low} < {default} < {high}");
    srv.stop().await;
}

fn error_code_cp<T>(
    r: Result<
        T,
        aws_sdk_kinesisvideo::error::SdkError<
            aws_sdk_kinesisvideo::operation::get_data_endpoint::GetDataEndpointError,
        >,
    >,
) -> String {
    let e = r.map(|_| ()).unwrap_err();
    aws_sdk_kinesisvideo::error::ProvideErrorMetadata::code(e.as_service_error().unwrap())
        .unwrap_or("")
        .to_owned()
}

/// Frames `n` of a fixture decoded by ffmpeg as RGB, or `None` without ffmpeg.
fn ffmpeg_frames(file: &str, frames: &[i64]) -> Option<Vec<Vec<u8>>> {
    let select: Vec<String> = frames.iter().map(|n| format!("eq(n\\,{n})")).collect();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i", &fixture_path(file), "-vf", &format!("select={}", select.join("+"))])
        .args(["-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let size = 640 * 360 * 3;
    assert_eq!(out.stdout.len(), size * frames.len());
    Some(out.stdout.chunks(size).map(<[u8]>::to_vec).collect())
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

async fn each_time_shows_its_frame(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let p = ingest(&srv, "frames", H264, 24).await;
    // 200 ms apart across a fragment boundary (fragments start at 2 s multiples), plus one time
    // between two frames (2019 ms shows the frame at 2000 ms).
    let out = images(&srv, "frames", p + 1400, p + 3000, 200, Format::Png).send().await.unwrap();
    let offsets: Vec<i64> = times(&out).iter().map(|t| t - p).collect();
    assert_eq!(offsets, (0..9).map(|k| 1400 + 200 * k).collect::<Vec<_>>());
    let mut got: Vec<(i64, Vec<u8>)> = out
        .images()
        .iter()
        .zip(&offsets)
        .map(|(i, t)| (t * FPS / 1000, decode(i, image::ImageFormat::Png).into_raw()))
        .collect();
    let between = images(&srv, "frames", p + 2019, p + 2019, 3000, Format::Png).send().await.unwrap();
    got.push((50, decode(&between.images()[0], image::ImageFormat::Png).into_raw()));
    for w in got.windows(2) {
        if w[0].0 != w[1].0 {
            assert_ne!(w[0].1, w[1].1, "frames {} and {} differ", w[0].0, w[1].0);
        }
    }
    let mut wanted: Vec<i64> = got.iter().map(|(n, _)| *n).chain([34, 36, 49, 51]).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let Some(reference) = ffmpeg_frames(H264, &wanted) else {
        println!("skipped the frame comparison: no ffmpeg");
        srv.stop().await;
        return;
    };
    let frame = |n: i64| &reference[wanted.iter().position(|w| *w == n).unwrap()];
    for (n, ours) in &got {
        let same = mean_abs_diff(ours, frame(*n));
        assert!(same < 2.0, "frame {n}: mean difference {same} from ffmpeg's");
        for other in [n - 1, n + 1] {
            if wanted.contains(&other) {
                assert!(mean_abs_diff(ours, frame(other)) > same, "frame {n} is closer to frame {other}");
            }
        }
    }
    srv.stop().await;
}

async fn paging_no_media_and_server_timestamps(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let p = ingest(&srv, "pages", H264, 24).await;
    // 100 sample times: pages of 25 even though MaxResults is 100.
    let mut token = None;
    let (mut all, mut pages) = (Vec::new(), Vec::new());
    loop {
        let out = images(&srv, "pages", p, p + 19_800, 200, Format::Jpeg)
            .width_pixels(64)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(out.images().len());
        assert!(out.images().iter().all(|i| i.image_content().is_some()), "{:?}", out.images());
        all.extend(times(&out));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [25, 25, 25, 25]);
    assert_eq!(all, (0..100).map(|k| p + 200 * k).collect::<Vec<_>>());
    // MaxResults below 25 sets the page size; the SDK paginator follows the tokens.
    let out = images(&srv, "pages", p, p + 19_800, 200, Format::Jpeg)
        .width_pixels(64)
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert_eq!((out.images().len(), out.next_token().is_some()), (10, true));
    let paged: Vec<i64> = images(&srv, "pages", p, p + 19_800, 2000, Format::Jpeg)
        .width_pixels(64)
        .max_results(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .map(|i| millis(i.time_stamp().unwrap()))
        .collect();
    assert_eq!(paged, (0..10).map(|k| p + 2000 * k).collect::<Vec<_>>());
    // A token only continues the request it came from.
    let r = images(&srv, "pages", p, p + 10_000, 200, Format::Jpeg)
        .next_token(token_of(&srv, p).await)
        .send()
        .await;
    assert_eq!(error_code(r), "InvalidArgumentException");

    // Before the stream's first frame and after its last: NO_MEDIA.
    let out =
        images(&srv, "pages", p - 3000, p + 1000, 1000, Format::Jpeg).width_pixels(64).send().await.unwrap();
    let errors: Vec<Option<&ImageError>> = out.images().iter().map(Image::error).collect();
    assert_eq!(
        errors,
        [Some(&ImageError::NoMedia), Some(&ImageError::NoMedia), Some(&ImageError::NoMedia), None, None]
    );
    let out = images(&srv, "pages", p + 30_000, p + 60_000, 10_000, Format::Png).send().await.unwrap();
    assert!(out.images().iter().all(|i| i.error() == Some(&ImageError::NoMedia)), "{:?}", out.images());

    // SERVER_TIMESTAMP: the first fragment's server time shows a picture.
    let listed = srv.archived().list_fragments().stream_name("pages").send().await.unwrap();
    let first = listed.fragments().iter().map(|f| millis(f.server_timestamp().unwrap())).min().unwrap();
    let out = srv
        .archived()
        .get_images()
        .stream_name("pages")
        .image_selector_type(ImageSelectorType::ServerTimestamp)
        .start_timestamp(DateTime::from_millis(first))
        .end_timestamp(DateTime::from_millis(first + 1000))
        .sampling_interval(500)
        .format(Format::Jpeg)
        .send()
        .await
        .unwrap();
    assert_eq!(times(&out), vec![first, first + 500, first + 1000]);
    assert!(out.images().iter().all(|i| i.image_content().is_some()), "{:?}", out.images());
    srv.stop().await;
}

/// A NextToken of a 100-image request starting at `p`.
async fn token_of(srv: &TestServer, p: i64) -> String {
    let out = images(srv, "pages", p, p + 19_800, 200, Format::Jpeg).width_pixels(64).send().await.unwrap();
    out.next_token().unwrap().to_owned()
}

async fn validation_errors(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let p = ingest(&srv, "valid", H264, 24).await;
    let ok = || images(&srv, "valid", p, p + 1000, 1000, Format::Jpeg);
    assert!(ok().send().await.is_ok());
    let cases: Vec<(&str, GetImagesFluentBuilder)> = vec![
        ("no stream", ok().set_stream_name(None)),
        ("name and ARN", ok().stream_arn("arn:aws:kinesisvideo:us-east-1:000000000000:stream/valid/1")),
        ("bad name", ok().stream_name("no spaces")),
        ("no selector type", ok().set_image_selector_type(None)),
        ("unknown selector type", ok().image_selector_type(ImageSelectorType::from("FRAGMENT_TIMESTAMP"))),
        ("no start", ok().set_start_timestamp(None)),
        ("no end", ok().set_end_timestamp(None)),
        ("end before start", ok().end_timestamp(DateTime::from_millis(p - 1))),
        ("range over 300 s", ok().end_timestamp(DateTime::from_millis(p + 300_001))),
        ("no format", ok().set_format(None)),
        ("unknown format", ok().format(Format::from("GIF"))),
        ("interval under 200 ms", ok().sampling_interval(199)),
        ("JPEGQuality 0", ok().format_config(FormatConfigKey::JpegQuality, "0")),
        ("JPEGQuality 101", ok().format_config(FormatConfigKey::JpegQuality, "101")),
        ("JPEGQuality text", ok().format_config(FormatConfigKey::JpegQuality, "best")),
        ("unknown FormatConfig key", ok().format_config(FormatConfigKey::from("PNGLevel"), "3")),
        ("width 0", ok().width_pixels(0)),
        ("width 3841", ok().width_pixels(3841)),
        ("height 2161", ok().width_pixels(10).height_pixels(2161)),
        ("height only", ok().height_pixels(100)),
        ("MaxResults 0", ok().max_results(0)),
        ("MaxResults 101", ok().max_results(101)),
        ("malformed NextToken", ok().next_token("%%%")),
        ("forged NextToken", ok().next_token(STANDARD.encode(b"{\"t\":1}"))),
    ];
    for (what, call) in cases {
        assert_eq!(error_code(call.send().await), "InvalidArgumentException", "{what}");
    }
    assert!(ok().end_timestamp(DateTime::from_millis(p + 300_000)).max_results(1).send().await.is_ok());
    assert!(
        ok().sampling_interval(200)
            .width_pixels(3840)
            .height_pixels(2160)
            .max_results(1)
            .send()
            .await
            .is_ok()
    );
    let r = images(&srv, "missing", p, p + 1000, 1000, Format::Jpeg).send().await;
    assert_eq!(error_code(r), "ResourceNotFoundException");
    // SamplingInterval is optional in the model: without it, one image every 3 s.
    let out =
        ok().set_sampling_interval(None).end_timestamp(DateTime::from_millis(p + 7000)).send().await.unwrap();
    assert_eq!(times(&out), vec![p, p + 3000, p + 6000]);
    srv.stop().await;
}

async fn h265_and_no_retention(backend: Backend) {
    let srv = TestServer::start(backend).await;
    // H.265: no decoder here, so every covered time is MEDIA_ERROR (what AWS answers for media it
    // cannot make an image of), and times outside the stream stay NO_MEDIA.
    let p = ingest(&srv, "hevc", "h265_640x360_10s.mkv", 24).await;
    let out = images(&srv, "hevc", p, p + 12_000, 2000, Format::Jpeg).send().await.unwrap();
    let errors: Vec<Option<&ImageError>> = out.images().iter().map(Image::error).collect();
    let mut want = vec![Some(&ImageError::MediaError); 5];
    want.extend([Some(&ImageError::NoMedia); 2]);
    assert_eq!(errors, want);
    assert!(out.images().iter().all(|i| i.image_content().is_none()));

    let p = ingest(&srv, "zero", H264, 0).await;
    let r = images(&srv, "zero", p, p + 1000, 1000, Format::Jpeg).send().await;
    assert_eq!(error_code(r), "NoDataRetentionException");
    srv.stop().await;
}
