//! Where generated images go outside the analyzer (design/0019-image-delivery.md).
//!
//! - [`ImageDestination`]: an `ImageGenerationConfiguration` destination URI as openkvs acts on
//!   it — `s3://bucket/prefix` (an S3 bucket and key prefix, as in AWS) or `file://dir/sub` (an
//!   openkvs extension: a directory under the server's image root). The one parsing rule, used by
//!   UpdateImageGenerationConfiguration to refuse what cannot be delivered and by the thumbnail
//!   worker to deliver.
//! - [`image_object_name`] / [`image_id`]: the object key AWS documents for KVS image delivery,
//!   `<AccountID>_<StreamName>_<ImageTimecode>_<RandomID>.<jpg|png>` under the URI's prefix.
//! - [`DestinationsConfig`]: `[destinations.s3]`, the S3 connection and the upload queue's limits.
//! - [`s3`]: the uploads themselves (one kept client, bounded queue and retry loop per bucket),
//!   off the analysis path.
//!
//! Parsing and key building are pure; only [`s3`] does I/O. Nothing here knows HTTP servers.

pub mod s3;

use std::path::PathBuf;

use serde::Deserialize;
use sha1::{Digest, Sha1};

use crate::model::StreamName;

/// A destination URI as openkvs delivers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageDestination {
    /// `s3://bucket/prefix`: objects `prefix/<name>` in `bucket` (prefix without leading or
    /// trailing `/`; empty for the bucket's root).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// `file://dir/sub`: the directory `<image root>/dir/sub` (relative; never leaves the root).
    Local {
        /// The directory below the image root.
        relative: PathBuf,
    },
}

impl ImageDestination {
    /// Parses a destination URI (already valid for the model's pattern). `s3://` needs a bucket
    /// name S3 accepts (3..=63 of `a-z0-9.-`, starting and ending with a letter or digit) and a
    /// key prefix of plain segments; `file://` a relative path of plain segments. `.`, `..` and
    /// empty segments are refused in both (an S3 key segment `..` is a path to every S3-compatible
    /// server that stores objects as files, and a file destination must stay under the root). The
    /// error is the message of the InvalidArgumentException.
    pub fn parse(uri: &str) -> Result<Self, String> {
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let prefix = plain_segments(uri, prefix)?.join("/");
            check_bucket(uri, bucket)?;
            return Ok(Self::S3 { bucket: bucket.to_owned(), prefix });
        }
        if let Some(rest) = uri.strip_prefix("file://") {
            let segments = plain_segments(uri, rest)?;
            return Ok(Self::Local { relative: segments.into_iter().collect() });
        }
        Err(format!(
            "The destination URI {uri} is not supported: images are delivered to s3://bucket/prefix \
             (or, with openkvs, file://directory under the server's image root)."
        ))
    }

    /// The destination of a stored configuration. URIs earlier versions accepted but that are not
    /// deliverable now (another scheme, a bucket name S3 refuses) keep their old meaning: the
    /// image root itself.
    pub fn stored(uri: &str) -> Self {
        Self::parse(uri).unwrap_or(Self::Local { relative: PathBuf::new() })
    }
}

/// The segments of a destination path: none empty (leading and trailing `/` aside), none `.` or
/// `..`, no control character.
fn plain_segments<'a>(uri: &str, path: &'a str) -> Result<Vec<&'a str>, String> {
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(format!("The destination URI {uri} must not contain '.' or '..' path segments."));
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("The destination URI {uri} must not contain empty path segments ('//')."));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(format!("The destination URI {uri} must not contain control characters."));
    }
    Ok(segments)
}

/// S3's bucket naming rules (general purpose buckets).
fn check_bucket(uri: &str, bucket: &str) -> Result<(), String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The destination URI {uri} does not name a valid S3 bucket ('..' is not a bucket; names are \
             3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)."
        ))
    }
}

/// The object name of one image, as AWS documents it for KVS image delivery:
/// `<AccountID>_<StreamName>_<ImageTimecode>_<RandomID>.<jpg|png>` (the optional
/// `AWS_KINESISVIDEO_IMAGE_PREFIX` fragment tag is not supported: openkvs samples every fragment).
///
/// The stream name is used as it is, not escaped: it sits inside one key segment between fields of
/// a fixed shape (a 12-digit account, a decimal timecode, a 36-character GUID), so it is never a
/// path segment of its own (`.` gives `111122223333_._…`, never `.`), and the name can be read back
/// unambiguously from both ends, so two names never share a key.
pub fn image_object_name(
    account: &str,
    stream: &StreamName,
    timecode_ms: i64,
    id: &uuid::Uuid,
    extension: &str,
) -> String {
    format!("{account}_{}_{timecode_ms}_{}.{extension}", stream.as_str(), id.hyphenated())
}

/// `prefix/name`, or `name` for the bucket's root.
pub fn object_key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") }
}

/// The `RandomID` of an image: AWS uses a random GUID; openkvs derives a name-based GUID (UUID
/// version 5 layout, SHA-1) from the stream ARN, the fragment number, the timecode and the format,
/// so analysing a fragment again (at-least-once, e.g. after a restart) overwrites its images
/// instead of adding copies.
pub fn image_id(stream_arn: &str, fragment_number: &str, timecode_ms: i64, extension: &str) -> uuid::Uuid {
    /// The namespace of openkvs image ids (a fixed, randomly chosen UUID).
    const NAMESPACE: uuid::Uuid = uuid::uuid!("4f0d6b0e-8a43-4d53-9c1e-2d61f1a9e7c5");
    let mut hash = Sha1::new();
    hash.update(NAMESPACE.as_bytes());
    hash.update(format!("{stream_arn}\n{fragment_number}\n{timecode_ms}\n{extension}").as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// `[destinations]`: where openkvs delivers outside itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DestinationsConfig {
    /// `s3://` image destinations.
    pub s3: S3DestinationConfig,
}

/// `[destinations.s3]`: the S3 endpoint `s3://` image destinations are written to, and the upload
/// queue. Connection keys left out take `[store.s3]`'s value when `store.kind = "s3"` (one S3
/// server for everything); otherwise AWS S3 with the standard credential chain, in the
/// configuration's `DestinationRegion`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3DestinationConfig {
    /// Endpoint URL of an S3-compatible server; `http://` uses plain HTTP and path-style requests.
    pub endpoint: Option<String>,
    /// The region requests are signed for.
    pub region: Option<String>,
    /// Access key id (absent: the AWS environment chain).
    pub access_key_id: Option<String>,
    /// Secret access key (with `access_key_id`).
    pub secret_access_key: Option<String>,
    /// Seconds one PUT may take.
    pub request_timeout_secs: u64,
    /// Images waiting per bucket; when full (S3 down for long), new images are dropped and counted.
    pub queue_capacity: usize,
    /// PUTs in flight per bucket.
    pub max_concurrent_puts: usize,
    /// Attempts per image before it is given up (and counted as failed).
    pub max_attempts: u32,
    /// First retry delay, ms (doubles per attempt, at most `max_backoff_ms`).
    pub retry_backoff_ms: u64,
    /// Longest retry delay, ms.
    pub max_backoff_ms: u64,
}

impl Default for S3DestinationConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            request_timeout_secs: 10,
            queue_capacity: 1000,
            max_concurrent_puts: 8,
            max_attempts: 8,
            retry_backoff_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

impl std::fmt::Debug for S3DestinationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3DestinationConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_concurrent_puts", &self.max_concurrent_puts)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("max_backoff_ms", &self.max_backoff_ms)
            .finish()
    }
}

impl DestinationsConfig {
    /// Checks the combination of keys.
    pub fn validate(&self) -> Result<(), String> {
        let s3 = &self.s3;
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            return Err(
                "destinations.s3.access_key_id and destinations.s3.secret_access_key must be given together"
                    .into(),
            );
        }
        if let Some(e) = &s3.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(format!("destinations.s3.endpoint must be an http:// or https:// URL, got {e}"));
        }
        if s3.request_timeout_secs == 0
            || s3.queue_capacity == 0
            || s3.max_concurrent_puts == 0
            || s3.max_attempts == 0
        {
            return Err("destinations.s3.request_timeout_secs, queue_capacity, max_concurrent_puts and \
                        max_attempts must be at least 1"
                .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> ImageDestination {
        ImageDestination::S3 { bucket: bucket.into(), prefix: prefix.into() }
    }

    #[test]
    fn destinations_are_s3_buckets_or_directories_under_the_root() {
        assert_eq!(ImageDestination::parse("s3://bucket"), Ok(s3("bucket", "")));
        assert_eq!(ImageDestination::parse("s3://bucket/"), Ok(s3("bucket", "")));
        assert_eq!(ImageDestination::parse("s3://my.bucket-1/pre/fix/"), Ok(s3("my.bucket-1", "pre/fix")));
        assert_eq!(
            ImageDestination::parse("file://thumbs/cam"),
            Ok(ImageDestination::Local { relative: PathBuf::from("thumbs/cam") })
        );
        for bad in [
            "s3://bucket/../../etc",
            "s3://bucket/a/./b",
            "s3://..",
            "s3://b",
            "s3://Bucket",
            "s3://bucket_1",
            "s3://-bucket",
            "s3://bucket-",
            "s3://a..b",
            "s3://bucket/a//b",
            "file://../etc",
            "file://a/../../etc",
            "file://a//b",
            "https://example.com/x",
            "arn:aws:s3:::bucket",
        ] {
            assert!(ImageDestination::parse(bad).is_err(), "{bad}");
        }
        assert!(ImageDestination::parse("s3://bucket/../x").unwrap_err().contains("'..'"));
        assert!(ImageDestination::parse("s3://..").unwrap_err().contains("'..'"));
        // What older versions stored and cannot be delivered now keeps its old meaning.
        assert_eq!(
            ImageDestination::stored("arn:aws:x:y"),
            ImageDestination::Local { relative: PathBuf::new() }
        );
        assert_eq!(ImageDestination::stored("s3://B"), ImageDestination::Local { relative: PathBuf::new() });
    }

    #[test]
    fn object_names_follow_the_documented_layout() {
        let account = "111122223333";
        let id = uuid::uuid!("f20f9add-75e7-4399-a30f-fc7aefb1bab7");
        let name =
            image_object_name(account, &StreamName::parse("demo-stream").unwrap(), 1690707290324, &id, "jpg");
        assert_eq!(name, "111122223333_demo-stream_1690707290324_f20f9add-75e7-4399-a30f-fc7aefb1bab7.jpg");
        assert_eq!(object_key("", &name), name);
        assert_eq!(object_key("some/prefix", "x.jpg"), "some/prefix/x.jpg");
    }

    /// Reads (stream name, timecode) back from an object name: the fields around the name have a
    /// fixed shape, so the name is whatever lies between them.
    fn read_back(name: &str) -> (String, i64) {
        let (stem, _ext) = name.rsplit_once('.').unwrap();
        let (rest, guid) = stem.rsplit_once('_').unwrap();
        assert_eq!(guid.len(), 36);
        let (rest, timecode) = rest.rsplit_once('_').unwrap();
        let (account, stream) = rest.split_once('_').unwrap();
        assert_eq!(account.len(), 12);
        (stream.to_owned(), timecode.parse().unwrap())
    }

    /// Every stream name made only of dots, dashes and underscores (up to 4 characters), plus long
    /// ones, gets its own key: no key segment is `.`, `..` or empty, the name reads back exactly,
    /// and no two names (or two timecodes) share a key.
    #[test]
    fn every_dotted_name_gets_its_own_key() {
        let account = "111122223333";
        let mut names: Vec<String> = Vec::new();
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level.iter().flat_map(|p| ['.', '-', '_'].map(|c| format!("{p}{c}"))).collect();
            names.extend(level.iter().cloned());
        }
        names.extend([".".repeat(256), "_".repeat(256), format!("{}a", ".".repeat(255)), "a_1".into()]);
        let mut seen = std::collections::HashMap::new();
        for name in &names {
            let stream = StreamName::parse(name).unwrap();
            for timecode in [0, 1_000, 1_690_707_290_324] {
                let arn = format!("arn:aws:kinesisvideo:us-east-1:111122223333:stream/{name}/1");
                let id = image_id(&arn, "91343852333182036507421233921329142742245756394", timecode, "jpg");
                let key =
                    object_key("some-prefix", &image_object_name(account, &stream, timecode, &id, "jpg"));
                for segment in key.split('/') {
                    assert!(!matches!(segment, "" | "." | ".."), "{name:?} -> {key}");
                }
                assert!(key.len() <= 1024, "S3 keys are at most 1024 bytes: {key}");
                let file = key.strip_prefix("some-prefix/").unwrap();
                assert_eq!(read_back(file), (name.clone(), timecode), "{key}");
                if let Some(other) = seen.insert(key.clone(), (name.clone(), timecode)) {
                    panic!("{name:?}@{timecode} and {other:?} share {key}");
                }
            }
        }
    }

    #[test]
    fn image_ids_are_stable_per_image_and_distinct_across_images() {
        let a = image_id("arn:s/1", "9100", 1000, "jpg");
        assert_eq!(a, image_id("arn:s/1", "9100", 1000, "jpg"), "the same image, the same key");
        assert_eq!(a.get_version_num(), 5);
        for other in [
            image_id("arn:s/2", "9100", 1000, "jpg"),
            image_id("arn:s/1", "9101", 1000, "jpg"),
            image_id("arn:s/1", "9100", 1001, "jpg"),
            image_id("arn:s/1", "9100", 1000, "png"),
        ] {
            assert_ne!(a, other);
        }
    }
}
