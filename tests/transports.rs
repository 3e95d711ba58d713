//! Every listener × HTTP version a client can reach, driven by libcurl itself (the Debian `curl`
//! CLI, the library inside the KVS C producer and kvssink), against `openkvs serve` as a process.
//! design/0012-transports.md has the table these tests prove.
//!
//! - TLS listener: openkvs selects `http/1.1` by ALPN although curl offers `h2` (as the producers'
//!   libcurl does), so PutMedia with the C producer's signed header set
//!   (`connection;host;transfer-encoding;…`, empty-payload hash) streams and reads PERSISTED ACKs
//!   while the body is still being sent; GetMedia and the JSON operations work there too.
//! - Cleartext listener: HTTP/1.1, and HTTP/2 with prior knowledge (h2c) for the JSON operations and
//!   for a PutMedia that signs only headers HTTP/2 can carry; a PutMedia whose signature covers
//!   `connection`/`transfer-encoding` over h2c is refused with an error that says why.
//! - The operator's side of the same sessions: one log line when a producer connects and one when it
//!   disconnects, signature failures naming the access key id, no rustls SNI warning for clients
//!   that connect by IP; and one server per data directory.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::process::ServeProcess;
use common::producer::{PutOptions, put_media_headers, split_file, tags_element};
use tokio::io::{AsyncBufReadExt, BufReader};

const FIXTURE: &[u8] = include_bytes!("fixtures/h264_640x360_20s_2sgop.mkv");
const ACK_BOUND: Duration = Duration::from_secs(20);

/// A data directory with a self-signed certificate for 127.0.0.1 and a config whose GetMedia
/// responses end 1 s after they catch up (so a curl GetMedia ends by itself).
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        std::fs::write(
            dir.path().join("openkvs.toml"),
            "[playback]\nget_media_idle_secs = 1\n\n[[auth.keys]]\naccess_key_id = \"openkvs\"\nsecret_access_key = \"openkvs-secret\"\n",
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A server with a cleartext listener and a TLS listener.
    fn serve(&self) -> ServeProcess {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let (cert, key, config) = (self.path("cert.pem"), self.path("key.pem"), self.path("openkvs.toml"));
        ServeProcess::start(
            &data,
            &["--config", &config, "--tls-cert", &cert, "--tls-key", &key, "--tls-listen", "127.0.0.1:0"],
        )
    }

    /// `curl` with the lab's CA and no progress meter.
    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["--no-progress-meter", "--cacert", &self.path("cert.pem")]);
        c
    }
}

/// A JSON operation signed by curl's own SigV4 (`--aws-sigv4`), printing the body and then the
/// HTTP version and status on the last line.
fn curl_json(lab: &Lab, extra: &[&str], url: &str, body: &str) -> (String, String) {
    let out = lab
        .curl()
        .args(extra)
        .args(["--aws-sigv4", "aws:amz:us-east-1:kinesisvideo", "--user", "openkvs:openkvs-secret"])
        .args(["-H", "content-type: application/json", "--data-binary", body])
        .args(["-w", "\n%{http_version} %{http_code}"])
        .arg(url)
        .output()
        .expect("run curl (apt-get install curl)");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, last) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), last.to_owned())
}

fn create_stream(lab: &Lab, base: &str, name: &str) {
    let body = format!(r#"{{"StreamName":"{name}","DataRetentionInHours":1}}"#);
    let (resp, status) = curl_json(lab, &[], &format!("{base}/createStream"), &body);
    assert_eq!(status, "1.1 200", "{resp}");
}

/// The fixture as the C producer frames it: header, then each Cluster followed by an
/// end-of-fragment Tags element (so the server closes the fragment on its last byte).
fn fragments(n: usize) -> (Bytes, Vec<Bytes>) {
    let (header, items) = split_file(FIXTURE);
    let eofr = tags_element("AWS_KINESISVIDEO_END_OF_FRAGMENT", "");
    let clusters = items
        .into_iter()
        .filter(|(tc, _)| tc.is_some())
        .take(n)
        .map(|(_, c)| {
            let mut b = c.to_vec();
            b.extend_from_slice(&eofr);
            Bytes::from(b)
        })
        .collect();
    (header, clusters)
}

/// `curl -X POST` of a body file, chunked (`transfer-encoding: chunked` is among `headers` or, for
/// HTTP/2, implied), verbose, at `rate` bytes/s so the upload takes a while.
fn spawn_curl_put(
    lab: &Lab,
    extra: &[&str],
    url: &str,
    headers: &[(String, String)],
    body: &Path,
    rate: usize,
) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-v", "--no-progress-meter", "-N", "--cacert", &lab.path("cert.pem")])
        .args(extra)
        .args(["--limit-rate", &rate.to_string()])
        .args(["-X", "POST", "-w", "\nHTTP_VERSION %{http_version} %{http_code}\n"])
        .arg("--data-binary")
        .arg(format!("@{}", body.display()));
    if !headers.iter().any(|(k, _)| k == "transfer-encoding") {
        cmd.args(["-H", "transfer-encoding: chunked"]);
    }
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    cmd.arg(url).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd.spawn().expect("run curl")
}

/// Uploads `n` fragments through curl (at a rate that makes the upload last about two seconds) and
/// proves the exchange is full duplex: fragment 0's PERSISTED ACK reaches curl before curl has
/// finished sending the body (its verbose log says when). Returns
/// the HTTP version and status curl reported.
async fn put_fragments_through_curl(
    lab: &Lab,
    server: &ServeProcess,
    extra: &[&str],
    url: &str,
    headers: &[(String, String)],
    n: usize,
) -> String {
    let (header, clusters) = fragments(n);
    let mut body = header.to_vec();
    clusters.iter().for_each(|c| body.extend_from_slice(c));
    let path = lab.dir.path().join(format!("body-{}.mkv", rand_suffix()));
    std::fs::write(&path, &body).unwrap();
    let started = Instant::now();
    let mut curl = spawn_curl_put(lab, extra, url, headers, &path, body.len() / 2);
    let mut stdout = BufReader::new(curl.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(curl.stderr.take().unwrap()).lines();
    let verbose = tokio::spawn(async move {
        let (mut uploaded_at, mut text) = (None, String::new());
        while let Ok(Some(line)) = stderr.next_line().await {
            if uploaded_at.is_none()
                && (line.contains("We are completely uploaded")
                    || line.contains("Signaling end of chunked upload"))
            {
                uploaded_at = Some(Instant::now());
            }
            text.push_str(&line);
            text.push('\n');
        }
        (uploaded_at, text)
    });
    let (mut persisted, mut version, mut first_persisted_at) = (0, None, None);
    let deadline = Instant::now() + ACK_BOUND;
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline.into(), stdout.next_line()).await {
        persisted += count_ack(&line, &mut version);
        if persisted == 1 && first_persisted_at.is_none() {
            first_persisted_at = Some(Instant::now());
        }
    }
    let status = tokio::time::timeout(ACK_BOUND, curl.wait()).await.unwrap().unwrap();
    let (uploaded_at, verbose) = verbose.await.unwrap();
    let context = || format!("curl:\n{verbose}\nserver:\n{}", server.log().join("\n"));
    assert!(status.success(), "curl exited with {status}\n{}", context());
    assert_eq!(persisted, n, "{}", context());
    let (first, done) = (first_persisted_at.unwrap(), uploaded_at.unwrap_or_else(|| panic!("{}", context())));
    assert!(
        first < done,
        "fragment 0 PERSISTED {:?} after the start, the body was sent completely after {:?}: not full duplex",
        first - started,
        done - started
    );
    version.expect("curl printed the HTTP version")
}

fn rand_suffix() -> u64 {
    rand::random()
}

/// 1 for a PERSISTED ACK line, 0 for other ACKs and blank lines; panics on an ERROR ACK; records
/// the `-w` line.
fn count_ack(line: &str, version: &mut Option<String>) -> usize {
    if let Some(v) = line.strip_prefix("HTTP_VERSION ") {
        *version = Some(v.to_owned());
        return 0;
    }
    if line.is_empty() {
        return 0;
    }
    let ack: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|_| panic!("not an ACK line: {line}"));
    assert_ne!(ack["EventType"], "ERROR", "{ack}");
    usize::from(ack["EventType"] == "PERSISTED")
}

fn producer_opts(stream: &str) -> PutOptions {
    let mut opts = PutOptions::new(stream);
    opts.timecode_type = "RELATIVE"; // the fixture's clusters start at 0
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libcurl_put_media_over_tls_streams_and_get_media_reads_it_back() {
    let lab = Lab::new();
    let server = lab.serve();
    let (http, https) = (server.url("http"), server.url("https"));
    create_stream(&lab, &http, "cam-tls");

    // The C producer's request: every header it signs, Host without the port, over the TLS
    // listener, with curl offering h2 by ALPN as the producers' libcurl does.
    let url = format!("{https}/putMedia");
    let headers = put_media_headers(&url, &producer_opts("cam-tls"), true);
    let version = put_fragments_through_curl(&lab, &server, &[], &url, &headers, 4).await;
    assert_eq!(version, "1.1 200", "the TLS listener must negotiate HTTP/1.1 for PutMedia");

    // GetMedia over the same listener, signed by curl: all four fragments, then the response ends
    // (1 s idle, no producer).
    let out = lab.dir.path().join("get_media.mkv");
    let status = lab
        .curl()
        .args(["--aws-sigv4", "aws:amz:us-east-1:kinesisvideo", "--user", "openkvs:openkvs-secret"])
        .args(["-H", "content-type: application/json"])
        .args([
            "--data-binary",
            r#"{"StreamName":"cam-tls","StartSelector":{"StartSelectorType":"EARLIEST"}}"#,
        ])
        .args(["-w", "%{http_version} %{http_code}", "-o"])
        .arg(&out)
        .arg(format!("{https}/getMedia"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(String::from_utf8_lossy(&status.stdout), "1.1 200");
    let media = std::fs::read(&out).unwrap();
    let count = media.windows(32).filter(|w| *w == b"AWS_KINESISVIDEO_FRAGMENT_NUMBER").count();
    assert_eq!(count, 4, "GetMedia over TLS returns every fragment");
    // The first fragment's frames come back byte for byte.
    let (_, clusters) = fragments(1);
    let first_block = &clusters[0][clusters[0].len() / 2..clusters[0].len() / 2 + 4096];
    assert!(media.windows(first_block.len()).any(|w| w == first_block));

    // What the operator sees.
    let connected = server
        .wait_for_line(ACK_BOUND, |l| l.contains("producer disconnected") && l.contains("cam-tls"))
        .expect("a disconnect line");
    assert!(connected.contains("fragments_persisted=4"), "{connected}");
    assert!(connected.contains("remote=127.0.0.1:"), "{connected}");
    assert!(connected.contains("reason=\"end of body\""), "{connected}");
    let log = server.log();
    assert!(log.iter().any(|l| l.contains("producer connected") && l.contains("cam-tls")));
    assert!(
        !log.iter().any(|l| l.contains("Illegal SNI")),
        "curl connects by IP; rustls's SNI warning is noise for an operator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_operations_answer_on_every_listener_and_protocol() {
    let lab = Lab::new();
    let server = lab.serve();
    let (http, https) = (server.url("http"), server.url("https"));
    create_stream(&lab, &http, "cam-json");
    let list = |extra: &[&str], base: &str| curl_json(&lab, extra, &format!("{base}/listStreams"), "{}");
    for (extra, base, want) in [
        (&[][..], &http, "1.1 200"),
        (&["--http1.1"][..], &http, "1.1 200"),
        (&["--http2"][..], &http, "1.1 200"),
        (&["--http2-prior-knowledge"][..], &http, "2 200"),
        (&[][..], &https, "1.1 200"),
        (&["--http2"][..], &https, "1.1 200"),
        (&["--http1.1"][..], &https, "1.1 200"),
    ] {
        let (body, status) = list(extra, base);
        assert_eq!(status, want, "{extra:?} {base}: {body}");
        assert!(body.contains("cam-json"), "{extra:?} {base}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_media_over_h2c_streams_when_it_signs_what_http2_carries() {
    let lab = Lab::new();
    let server = lab.serve();
    let http = server.url("http");
    create_stream(&lab, &http, "cam-h2c");
    let url = format!("{http}/putMedia");

    // Signed without connection-specific headers: streams over HTTP/2 like over HTTP/1.1.
    let headers = put_media_headers(&url, &producer_opts("cam-h2c"), false);
    let version =
        put_fragments_through_curl(&lab, &server, &["--http2-prior-knowledge"], &url, &headers, 2).await;
    assert_eq!(version, "2 200");

    // The producers' header set over HTTP/2: curl drops `connection` and `transfer-encoding` (HTTP/2
    // forbids them), so the signature cannot verify; the answer says so.
    // (An empty body: the refusal comes from the headers alone. With a body still being sent, hyper
    // ends the stream with RST_STREAM(NO_ERROR) after the response, as RFC 9113 §8.1 allows, and
    // curl 7.88 reports that as error 92 before showing the response.)
    let headers = put_media_headers(&url, &producer_opts("cam-h2c"), true);
    let body = lab.dir.path().join("empty.mkv");
    std::fs::write(&body, b"").unwrap();
    let curl = spawn_curl_put(&lab, &["--http2-prior-knowledge"], &url, &headers, &body, 1 << 20);
    let out = tokio::time::timeout(ACK_BOUND, curl.wait_with_output()).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HTTP_VERSION 2 400"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("IncompleteSignatureException"), "{text}");
    assert!(text.contains("send this request over HTTP/1.1"), "{text}");
    // The log names the key that signed it.
    let line = server
        .wait_for_line(ACK_BOUND, |l| l.contains("IncompleteSignatureException"))
        .expect("the failure is logged");
    assert!(line.contains("access key id \"openkvs\""), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_failures_name_the_access_key_in_the_log() {
    let lab = Lab::new();
    let server = lab.serve();
    let out = lab
        .curl()
        .args(["--aws-sigv4", "aws:amz:us-east-1:kinesisvideo", "--user", "camera-7:wrong-secret"])
        .args(["-H", "content-type: application/json", "--data-binary", "{}", "-w", "\n%{http_code}"])
        .arg(format!("{}/listStreams", server.url("https")))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n403"), "{text}");
    let line = server
        .wait_for_line(ACK_BOUND, |l| l.contains("UnrecognizedClientException"))
        .expect("the failure is logged");
    assert!(line.contains("camera-7"), "{line}");
}

/// An upload refused before its body is read (here: a wrong secret) reaches libcurl as the AWS
/// error, not as a reset: the server drains the unread body for a bounded time before it closes
/// (a close with unread bytes makes the kernel reset the connection, and a client still writing can
/// see the reset first). No `Expect: 100-continue` (the refusal would then come before any body),
/// a body bigger than the socket buffers, sent at a producer-like rate; several rounds on both
/// listeners, since the reset is a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_before_its_body_is_read_gets_the_aws_error() {
    let lab = Lab::new();
    let server = lab.serve();
    let body = lab.path("upload.bin");
    std::fs::write(&body, vec![0x1fu8; 8 * 1024 * 1024]).unwrap();
    for scheme in ["http", "https", "http", "https", "http", "https"] {
        let out = lab
            .curl()
            .args(["--aws-sigv4", "aws:amz:us-east-1:kinesisvideo", "--user", "openkvs:wrong-secret"])
            .args([
                "-H",
                "Expect:",
                "-H",
                "x-amzn-stream-name: s",
                "-H",
                "x-amzn-fragment-timecode-type: ABSOLUTE",
            ])
            .args(["-H", "transfer-encoding: chunked", "--limit-rate", "4M", "-X", "POST", "-T", &body])
            .args(["-w", "\n%{http_code}"])
            .arg(format!("{}/putMedia", server.url(scheme)))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = text.rsplit('\n').next().unwrap_or_default();
        assert!(code.starts_with('4') && code.len() == 3, "{scheme}: {text} / {stderr}");
        assert!(text.contains("Exception"), "{scheme}: {text}");
    }
}

#[test]
fn a_second_server_on_the_same_data_directory_exits_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = ServeProcess::start(dir.path(), &[]);
    let (status, log) = match ServeProcess::try_start(dir.path(), &[]) {
        Ok(second) => panic!("a second server started on the same data directory: {:?}", second.urls),
        Err(e) => e,
    };
    let status = status.expect("the second server exits (it must not hang)");
    assert!(!status.success());
    assert!(log.contains(&format!("(pid {})", first.pid())), "{log}");
    assert!(log.contains(&dir.path().display().to_string()), "{log}");
    // The first one is unaffected and, once gone (even by kill -9), frees the directory.
    assert!(first.log().iter().any(|l| l.contains("listening on")));
    drop(first); // SIGKILL
    let again = ServeProcess::start(dir.path(), &[]);
    assert!(Path::new(&dir.path().join("openkvs.lock")).exists());
    drop(again);
}
