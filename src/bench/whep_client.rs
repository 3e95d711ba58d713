//! A WHEP viewer (RFC 9725) on str0m in client mode: one receive-only WebRTC peer connection per
//! viewer, on its own UDP socket. `bench whep` runs many of them; the tests drive it through that
//! command.
//!
//! [`WhepViewer::connect`] makes a receive-only offer (H.264 video + Opus audio, the viewer's one
//! host candidate in the offer, so no trickle PATCH), POSTs it to the WHEP URL as
//! `application/sdp`, applies the `201` answer and keeps the session resource named by
//! `Location`. [`WhepViewer::next_event`] then drives the connection — ICE over UDP, DTLS-SRTP,
//! RTP depacketization, RTCP receiver reports and NACKs are all str0m's — until something the
//! caller cares about happens: connected, a whole frame received, the connection lost, or the
//! caller's deadline. [`WhepViewer::close`] DELETEs the session resource.
//!
//! I/O: the HTTP requests in `connect`/`close` (one keep-alive connection per viewer), and the
//! viewer's UDP socket, read and written only inside `next_event` (no task of its own). Nothing
//! here measures; the caller timestamps what `next_event` returns.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use str0m::change::SdpAnswer;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::media::{Direction, MediaKind, MediaTime};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

use crate::producer::data_client::DataConnection;

/// Receive buffer of a viewer's socket: a key frame arrives as a burst of datagrams.
const RECEIVE_BUFFER_BYTES: libc::c_int = 1024 * 1024;

/// Why a viewer could not start.
#[derive(Debug, thiserror::Error)]
pub enum WhepClientError {
    /// Socket or address trouble.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The WHEP URL cannot be used.
    #[error("unusable WHEP URL {0}")]
    Url(String),
    /// The POST failed or was refused.
    #[error("WHEP POST: {0}")]
    Post(String),
    /// The answer (or the offer) is not usable SDP.
    #[error("SDP: {0}")]
    Sdp(String),
    /// The crypto provider cannot make a DTLS certificate.
    #[error("no DTLS certificate")]
    Certificate,
}

/// What every viewer of a run shares: the crypto provider, one DTLS certificate, and the local
/// address the viewers' sockets bind to.
#[derive(Clone)]
pub struct ViewerSetup {
    provider: Arc<CryptoProvider>,
    cert: DtlsCert,
    local_ip: IpAddr,
}

impl std::fmt::Debug for ViewerSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewerSetup").field("local_ip", &self.local_ip).finish_non_exhaustive()
    }
}

impl ViewerSetup {
    /// A setup for viewers of `whep_url`: they bind the local address the system routes to its
    /// host from (127.0.0.1 for a server on loopback).
    pub async fn for_url(whep_url: &str) -> Result<Self, WhepClientError> {
        let uri: hyper::Uri = whep_url.parse().map_err(|_| WhepClientError::Url(whep_url.to_owned()))?;
        let host = uri.host().ok_or_else(|| WhepClientError::Url(whep_url.to_owned()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let remote = tokio::net::lookup_host((host, uri.port_u16().unwrap_or(80)))
            .await?
            .next()
            .ok_or_else(|| WhepClientError::Url(whep_url.to_owned()))?;
        // A connected UDP socket learns its source address without sending anything.
        let probe = std::net::UdpSocket::bind(SocketAddr::new(unspecified_like(remote.ip()), 0))?;
        probe.connect(remote)?;
        let local_ip = probe.local_addr()?.ip();
        let provider = Arc::new(str0m::crypto::from_feature_flags());
        let cert = provider.dtls_provider.generate_certificate().ok_or(WhepClientError::Certificate)?;
        Ok(Self { provider, cert, local_ip })
    }
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// A whole frame str0m depacketized.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedFrame {
    /// Audio or video.
    pub kind: MediaKind,
    /// Its RTP timestamp (the low 32 bits are the header's field) in the codec's clock.
    pub rtp_time: MediaTime,
    /// Payload bytes (an Annex B access unit, or an Opus packet).
    pub bytes: usize,
    /// False when packets were lost before it.
    pub contiguous: bool,
}

/// What [`WhepViewer::next_event`] returns.
#[derive(Debug)]
pub enum ViewerEvent {
    /// ICE and DTLS completed.
    Connected,
    /// A frame arrived (when its last RTP packet did).
    Frame(ReceivedFrame),
    /// The connection ended (ICE disconnected, closed, or a protocol error).
    Lost(String),
    /// The caller's deadline passed first.
    Deadline,
}

/// One WHEP viewer; see the module documentation.
pub struct WhepViewer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    http: DataConnection,
    resource_url: String,
    buf: Vec<u8>,
}

impl WhepViewer {
    /// Offers, POSTs the offer to `whep_url` and applies the answer. ICE starts on the first
    /// [`WhepViewer::next_event`].
    pub async fn connect(setup: &ViewerSetup, whep_url: &str) -> Result<Self, WhepClientError> {
        let socket = UdpSocket::bind(SocketAddr::new(setup.local_ip, 0)).await?;
        set_receive_buffer(&socket);
        let local = socket.local_addr()?;
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(setup.provider.clone())
            .set_dtls_cert(setup.cert.clone())
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        let candidate = Candidate::host(local, "udp").map_err(|e| WhepClientError::Sdp(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| WhepClientError::Sdp("no offer".to_owned()))?;

        let mut http = DataConnection::new(whep_url).map_err(|e| WhepClientError::Url(e.to_string()))?;
        let response = http
            .post(whep_url, "application/sdp", Bytes::from(offer.to_sdp_string()))
            .await
            .map_err(|e| WhepClientError::Post(e.to_string()))?;
        let status = response.status();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| WhepClientError::Post(e.to_string()))?
            .to_bytes();
        let body = String::from_utf8_lossy(&body);
        if status != hyper::StatusCode::CREATED {
            return Err(WhepClientError::Post(format!("HTTP {}: {:.300}", status.as_u16(), body)));
        }
        let location = location.ok_or_else(|| WhepClientError::Post("201 without Location".to_owned()))?;
        let answer = SdpAnswer::from_sdp_string(&body).map_err(|e| WhepClientError::Sdp(e.to_string()))?;
        rtc.sdp_api().accept_answer(pending, answer).map_err(|e| WhepClientError::Sdp(e.to_string()))?;
        Ok(Self {
            rtc,
            socket,
            local,
            http,
            resource_url: resolve_location(whep_url, &location)?,
            buf: vec![0u8; 2048],
        })
    }

    /// The session resource's URL (from `Location`).
    pub fn resource_url(&self) -> &str {
        &self.resource_url
    }

    /// Drives the connection until an event, or `deadline`.
    pub async fn next_event(&mut self, deadline: Instant) -> ViewerEvent {
        loop {
            let wake = match self.rtc.poll_output() {
                Err(e) => return ViewerEvent::Lost(e.to_string()),
                Ok(Output::Transmit(t)) => {
                    // A failed send is a lost datagram, which ICE and NACK handle.
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                    continue;
                }
                Ok(Output::Event(event)) => match event {
                    Event::Connected => return ViewerEvent::Connected,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        return ViewerEvent::Lost("ICE disconnected".to_owned());
                    }
                    Event::Closed => return ViewerEvent::Lost("the connection closed".to_owned()),
                    Event::MediaData(d) => {
                        let kind = if d.params.spec().codec.is_audio() {
                            MediaKind::Audio
                        } else {
                            MediaKind::Video
                        };
                        return ViewerEvent::Frame(ReceivedFrame {
                            kind,
                            rtp_time: d.time,
                            bytes: d.data.len(),
                            contiguous: d.contiguous,
                        });
                    }
                    _ => continue,
                },
                Ok(Output::Timeout(t)) => t.min(deadline),
            };
            let received = tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => Some(r),
                _ = tokio::time::sleep_until(wake.into()) => None,
            };
            let now = Instant::now();
            let input = match received {
                Some(Ok((n, source))) => {
                    let Ok(contents) = self.buf[..n].try_into() else { continue };
                    Input::Receive(
                        now,
                        Receive { proto: Protocol::Udp, source, destination: self.local, contents },
                    )
                }
                // ICMP errors surface as receive errors; keep going.
                Some(Err(_)) => continue,
                None if now >= deadline => return ViewerEvent::Deadline,
                None => Input::Timeout(now),
            };
            if let Err(e) = self.rtc.handle_input(input) {
                return ViewerEvent::Lost(e.to_string());
            }
        }
    }

    /// DELETEs the session resource; its HTTP status.
    pub async fn close(mut self) -> Result<u16, WhepClientError> {
        let response =
            self.http.delete(&self.resource_url).await.map_err(|e| WhepClientError::Post(e.to_string()))?;
        Ok(response.status().as_u16())
    }
}

/// `Location` (usually a path) as an absolute URL, resolved against the WHEP URL.
fn resolve_location(whep_url: &str, location: &str) -> Result<String, WhepClientError> {
    let base = url::Url::parse(whep_url).map_err(|_| WhepClientError::Url(whep_url.to_owned()))?;
    let resolved =
        base.join(location).map_err(|_| WhepClientError::Post(format!("unusable Location {location}")))?;
    Ok(resolved.into())
}

fn set_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on an open socket with a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&RECEIVE_BUFFER_BYTES as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// How old a frame is: `now` (epoch) minus the producer time its RTP timestamp carries (openkvs
/// sets the RTP timestamp from the producer timestamp, modulo 2^32 in the codec clock). `None`
/// when the timestamp is ahead of `now` (clocks that disagree).
pub fn frame_age(rtp_time: MediaTime, now: std::time::SystemTime) -> Option<std::time::Duration> {
    let hz = u128::from(rtp_time.denom());
    if hz == 0 {
        return None;
    }
    let now_ns = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    let wrap = 1u128 << 32;
    let now_units = now_ns * hz / 1_000_000_000 % wrap;
    let diff = (now_units + wrap - u128::from(rtp_time.numer()) % wrap) % wrap;
    if diff >= wrap / 2 {
        return None;
    }
    Some(std::time::Duration::from_nanos((diff * 1_000_000_000 / hz) as u64))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use str0m::media::Frequency;

    use super::*;

    #[test]
    fn frame_age_reads_the_producer_time_across_the_rtp_wrap() {
        let produced = UNIX_EPOCH + Duration::from_millis(1_764_840_000_123);
        let units = (1_764_840_000_123u128 * 90) % (1u128 << 32);
        let rtp = MediaTime::new(units as u64 + (7u64 << 32), Frequency::NINETY_KHZ);
        let now = produced + Duration::from_millis(42);
        let age = frame_age(rtp, now).unwrap();
        assert!(age.abs_diff(Duration::from_millis(42)) < Duration::from_micros(20), "{age:?}");
        assert_eq!(frame_age(rtp, produced - Duration::from_millis(5)), None);
    }

    #[test]
    fn location_resolves_on_the_whep_origin() {
        let url = "http://127.0.0.1:4567/whep/v1/play?SessionToken=t";
        assert_eq!(
            resolve_location(url, "/whep/v1/sessions/ab").unwrap(),
            "http://127.0.0.1:4567/whep/v1/sessions/ab"
        );
        assert_eq!(resolve_location(url, "https://x/y").unwrap(), "https://x/y");
    }
}
