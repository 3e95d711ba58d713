//! The one task that owns every WebRTC peer connection, and the tasks that read its sockets.
//!
//! Everything WebRTC (ICE, DTLS, SRTP, RTP packetization, RTCP, NACK retransmissions) happens in
//! [`str0m::Rtc`] state machines: this driver feeds them datagrams and time
//! (`handle_input`), drains them (`poll_output`), sends what they transmit, and fans feed frames
//! out to viewers. Socket reads happen in one small reader task per local address, which forward
//! datagrams here; sends happen here (non-blocking, awaiting only when the socket buffer is full).
//! Nothing else touches a socket or a timer, and no lock is held: all peer state lives in this
//! task. A peer is dropped when ICE disconnects, when it is closed (WHEP DELETE), when its stream
//! is deleted, or when it has not connected within the connect timeout (a viewer that never
//! completes ICE costs one entry for that long).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::feed::{FeedFrame, FeedTrack, LiveSource};

/// A peer connection's id (the WHEP session resource's last path segment).
pub type SessionId = String;

/// How long a peer that answers through signaling (a storage peer, a storage-session viewer) has
/// to connect, at least.
const STORAGE_PATIENCE: Duration = Duration::from_secs(30);

/// Everything the driver reacts to.
pub enum DriverInput {
    /// A datagram read from the socket bound to `local`.
    Datagram {
        /// The local address it arrived on.
        local: SocketAddr,
        /// The sender.
        source: SocketAddr,
        /// Its bytes.
        data: Vec<u8>,
        /// When it was read.
        at: Instant,
    },
    /// A new viewer of `stream_id`: a WHEP viewer (its offer already answered, `offered` empty)
    /// or a storage-session viewer this server made the offer to (the m-lines in `offered`; its
    /// answer comes later as [`DriverInput::Answer`]).
    AddViewer {
        /// Its id.
        id: SessionId,
        /// The stream it watches.
        stream_id: i64,
        /// The connection.
        rtc: Box<Rtc>,
        /// The m-lines of this server's offer, if it made one.
        offered: Vec<(Mid, MediaKind)>,
        /// Dropped when the peer is removed (its session task then ends).
        ended: Option<oneshot::Sender<()>>,
    },
    /// A new storage peer (its offer sent to the master through signaling); received media goes
    /// to `media`, and the peer is dropped when that receiver is.
    AddStorage {
        /// Its id.
        id: SessionId,
        /// The connection.
        rtc: Box<Rtc>,
        /// The video m-line it offered (for key frame requests).
        video_mid: Mid,
        /// Where received frames go.
        media: mpsc::Sender<ReceivedMedia>,
    },
    /// The master's answer to a storage peer's offer; `done` answers whether it was applied.
    Answer {
        /// The session.
        id: SessionId,
        /// The offer it answers.
        pending: Box<SdpPendingOffer>,
        /// The answer.
        answer: Box<SdpAnswer>,
        /// Reply.
        done: oneshot::Sender<bool>,
    },
    /// Ask a storage peer's sender for a key frame (PLI).
    RequestKeyframe {
        /// The session.
        id: SessionId,
    },
    /// Trickled remote candidates (WHEP PATCH); `done` answers whether the session exists.
    Candidates {
        /// The session.
        id: SessionId,
        /// The candidates.
        candidates: Vec<Candidate>,
        /// Reply.
        done: oneshot::Sender<bool>,
    },
    /// Close a session (WHEP DELETE); `done` answers whether it existed.
    Close {
        /// The session.
        id: SessionId,
        /// Reply.
        done: oneshot::Sender<bool>,
    },
    /// A frame of a stream's feed.
    Frame {
        /// The stream.
        stream_id: i64,
        /// The frame.
        frame: Arc<FeedFrame>,
    },
    /// The feed lost frames: viewers wait for the next key frame.
    FeedGap {
        /// The stream.
        stream_id: i64,
    },
    /// The stream was deleted: its viewers are disconnected.
    StreamEnded {
        /// The stream.
        stream_id: i64,
    },
    /// How many peers exist (tests, metrics).
    Count {
        /// Reply.
        done: oneshot::Sender<usize>,
    },
}

impl std::fmt::Debug for DriverInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriverInput::Datagram { .. } => "Datagram",
            DriverInput::AddViewer { .. } => "AddViewer",
            DriverInput::AddStorage { .. } => "AddStorage",
            DriverInput::Answer { .. } => "Answer",
            DriverInput::RequestKeyframe { .. } => "RequestKeyframe",
            DriverInput::Candidates { .. } => "Candidates",
            DriverInput::Close { .. } => "Close",
            DriverInput::Frame { .. } => "Frame",
            DriverInput::FeedGap { .. } => "FeedGap",
            DriverInput::StreamEnded { .. } => "StreamEnded",
            DriverInput::Count { .. } => "Count",
        })
    }
}

/// A frame a storage peer received (depacketized by str0m).
#[derive(Debug)]
pub struct ReceivedMedia {
    /// Audio or video.
    pub kind: MediaKind,
    /// RTP time, extended to 64 bits, in the codec clock.
    pub time: MediaTime,
    /// Whether the frame follows the previous one without loss.
    pub contiguous: bool,
    /// H.264: an Annex B access unit; Opus: one packet.
    pub data: Arc<[u8]>,
}

/// A storage peer's receiving state.
#[derive(Debug)]
struct StorageLink {
    video_mid: Mid,
    media: mpsc::Sender<ReceivedMedia>,
}

/// A viewer's sending state.
#[derive(Debug, Default)]
struct Viewer {
    stream_id: i64,
    /// The m-lines of this server's offer (storage-session viewers); empty for WHEP.
    offered: Vec<(Mid, MediaKind)>,
    /// Dropped with the peer.
    _ended: Option<oneshot::Sender<()>>,
    /// The video m-line and the H.264 payload type chosen for it.
    video: Option<(Mid, Pt)>,
    /// The audio m-line and the Opus payload type.
    audio: Option<(Mid, Pt)>,
    /// Video frames are skipped until the next key frame (late join, feed gap).
    waiting_key: bool,
}

struct Peer {
    rtc: Rtc,
    viewer: Viewer,
    /// Set for a storage peer (which receives instead of sending).
    storage: Option<StorageLink>,
    /// When `rtc` wants its next timeout.
    next_timeout: Instant,
    /// ICE + DTLS completed.
    connected: bool,
    /// Dropped if not connected by then.
    connect_deadline: Instant,
}

/// A stream's viewers and feed.
struct Fanout {
    viewers: HashSet<SessionId>,
    /// The most recent video key frame (sent at once to a viewer that connects).
    last_key: Option<Arc<FeedFrame>>,
    feed: JoinHandle<()>,
}

/// The driver's state; see the module documentation.
pub struct Driver {
    rx: mpsc::Receiver<DriverInput>,
    tx: mpsc::Sender<DriverInput>,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    peers: HashMap<SessionId, Peer>,
    by_source: HashMap<SocketAddr, SessionId>,
    streams: HashMap<i64, Fanout>,
    live: Arc<dyn LiveSource>,
    sessions: Arc<AtomicUsize>,
    connect_timeout: Duration,
    /// Audio frames received from viewers (two-way audio of storage-session viewers).
    viewer_audio: Counter,
}

/// Reads datagrams from `socket` and forwards them to the driver until it goes away.
pub async fn read_socket(socket: Arc<UdpSocket>, tx: mpsc::Sender<DriverInput>) {
    let Ok(local) = socket.local_addr() else { return };
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, source) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP errors surface as recv errors on some systems; keep reading.
            Err(_) => continue,
        };
        let input = DriverInput::Datagram { local, source, data: buf[..n].to_vec(), at: Instant::now() };
        if tx.send(input).await.is_err() {
            return;
        }
    }
}

impl Driver {
    /// A driver for `sockets`, reading inputs from `rx` (`tx` is its own sender, for feeds).
    pub fn new(
        rx: mpsc::Receiver<DriverInput>,
        tx: mpsc::Sender<DriverInput>,
        sockets: Vec<Arc<UdpSocket>>,
        live: Arc<dyn LiveSource>,
        sessions: Arc<AtomicUsize>,
        connect_timeout: Duration,
        viewer_audio: Counter,
    ) -> Self {
        let sockets = sockets.into_iter().filter_map(|s| Some((s.local_addr().ok()?, s))).collect();
        Self {
            rx,
            tx,
            sockets,
            peers: HashMap::new(),
            by_source: HashMap::new(),
            streams: HashMap::new(),
            live,
            sessions,
            connect_timeout,
            viewer_audio,
        }
    }

    /// Runs until every sender is gone.
    pub async fn run(mut self) {
        loop {
            let now = Instant::now();
            let next = self.peers.values().map(|p| p.next_timeout.min(p.connect_deadline)).min();
            let sleep_until = next.unwrap_or(now + Duration::from_secs(3600)).max(now);
            tokio::select! {
                input = self.rx.recv() => match input {
                    Some(i) => self.handle(i).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(sleep_until.into()) => self.on_timeouts().await,
            }
        }
        for (_, f) in self.streams.drain() {
            f.feed.abort();
        }
    }

    async fn handle(&mut self, input: DriverInput) {
        match input {
            DriverInput::Datagram { local, source, data, at } => {
                self.on_datagram(local, source, &data, at).await
            }
            DriverInput::AddViewer { id, stream_id, rtc, offered, ended } => {
                self.add_viewer(id, stream_id, *rtc, offered, ended).await
            }
            DriverInput::AddStorage { id, rtc, video_mid, media } => {
                let now = Instant::now();
                let peer = Peer {
                    rtc: *rtc,
                    viewer: Viewer::default(),
                    storage: Some(StorageLink { video_mid, media }),
                    next_timeout: now,
                    connected: false,
                    connect_deadline: now + self.connect_timeout.max(STORAGE_PATIENCE),
                };
                self.peers.insert(id.clone(), peer);
                self.drive(&id).await;
            }
            DriverInput::Answer { id, pending, answer, done } => {
                let applied = match self.peers.get_mut(&id) {
                    Some(p) => match p.rtc.sdp_api().accept_answer(*pending, *answer) {
                        Ok(()) => {
                            for (mid, kind) in p.viewer.offered.clone() {
                                choose_payload(p, mid, kind);
                            }
                            true
                        }
                        Err(e) => {
                            tracing::info!(session = %id, "the master's SDP answer cannot be used: {e}");
                            false
                        }
                    },
                    None => false,
                };
                if applied {
                    self.drive(&id).await;
                }
                let _ = done.send(applied);
            }
            DriverInput::RequestKeyframe { id } => {
                if let Some(p) = self.peers.get_mut(&id) {
                    request_keyframe(p);
                    self.drive(&id).await;
                }
            }
            DriverInput::Candidates { id, candidates, done } => {
                let found = match self.peers.get_mut(&id) {
                    Some(p) => {
                        for c in candidates {
                            p.rtc.add_remote_candidate(c);
                        }
                        true
                    }
                    None => false,
                };
                if found {
                    self.drive(&id).await;
                }
                let _ = done.send(found);
            }
            DriverInput::Close { id, done } => {
                let found = self.peers.contains_key(&id);
                self.close(&id).await;
                let _ = done.send(found);
            }
            DriverInput::Frame { stream_id, frame } => self.fan_out(stream_id, frame).await,
            DriverInput::FeedGap { stream_id } => {
                if let Some(s) = self.streams.get_mut(&stream_id) {
                    s.last_key = None;
                    for id in &s.viewers {
                        if let Some(p) = self.peers.get_mut(id) {
                            p.viewer.waiting_key = true;
                        }
                    }
                }
            }
            DriverInput::StreamEnded { stream_id } => {
                let ids: Vec<SessionId> = self
                    .streams
                    .get(&stream_id)
                    .map(|s| s.viewers.iter().cloned().collect())
                    .unwrap_or_default();
                for id in ids {
                    self.close(&id).await;
                }
            }
            DriverInput::Count { done } => {
                let _ = done.send(self.peers.len());
            }
        }
    }

    async fn add_viewer(
        &mut self,
        id: SessionId,
        stream_id: i64,
        rtc: Rtc,
        offered: Vec<(Mid, MediaKind)>,
        ended: Option<oneshot::Sender<()>>,
    ) {
        let now = Instant::now();
        // A viewer this server offered to answers through signaling, maybe after connecting to
        // it: as patient as a storage peer.
        let patience = if offered.is_empty() {
            self.connect_timeout
        } else {
            self.connect_timeout.max(STORAGE_PATIENCE)
        };
        let peer = Peer {
            rtc,
            viewer: Viewer { stream_id, offered, _ended: ended, waiting_key: true, ..Default::default() },
            storage: None,
            next_timeout: now,
            connected: false,
            connect_deadline: now + patience,
        };
        self.peers.insert(id.clone(), peer);
        let fanout = self.streams.entry(stream_id).or_insert_with(|| Fanout {
            viewers: HashSet::new(),
            last_key: None,
            feed: tokio::spawn(super::feed::run(stream_id, self.live.clone(), self.tx.clone())),
        });
        fanout.viewers.insert(id.clone());
        self.drive(&id).await;
    }

    async fn on_datagram(&mut self, local: SocketAddr, source: SocketAddr, data: &[u8], at: Instant) {
        let Ok(contents) = data.try_into() else { return };
        let input =
            Input::Receive(at, Receive { proto: Protocol::Udp, source, destination: local, contents });
        let id = match self.by_source.get(&source) {
            Some(id) if self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)) => id.clone(),
            _ => match self.peers.iter().find(|(_, p)| p.rtc.accepts(&input)) {
                Some((id, _)) => {
                    self.by_source.insert(source, id.clone());
                    id.clone()
                }
                None => return,
            },
        };
        let ok = self.peers.get_mut(&id).is_some_and(|p| p.rtc.handle_input(input).is_ok());
        if ok {
            self.drive(&id).await;
        } else {
            self.remove(&id);
        }
    }

    async fn on_timeouts(&mut self) {
        let now = Instant::now();
        let due: Vec<SessionId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.next_timeout <= now || (!p.connected && p.connect_deadline <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(p) = self.peers.get_mut(&id) else { continue };
            if !p.connected && p.connect_deadline <= now {
                tracing::debug!(session = %id, "WebRTC peer did not connect in time; dropped");
                self.remove(&id);
                continue;
            }
            if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                self.remove(&id);
                continue;
            }
            self.drive(&id).await;
        }
    }

    /// Drains a peer's output: sends its datagrams, handles its events, notes its next timeout.
    /// Removes it when it is no longer alive.
    async fn drive(&mut self, id: &SessionId) {
        let mut connected_now = false;
        loop {
            let Some(p) = self.peers.get_mut(id) else { return };
            let out = match p.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(session = %id, "WebRTC peer failed: {e}");
                    self.remove(id);
                    return;
                }
            };
            match out {
                Output::Timeout(t) => {
                    p.next_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    if let Some(socket) = self.sockets.get(&t.source) {
                        send(socket, &t.contents, t.destination).await;
                    }
                }
                Output::Event(e) => match e {
                    Event::Connected => {
                        p.connected = true;
                        connected_now = true;
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                        self.remove(id);
                        return;
                    }
                    Event::MediaAdded(m) => choose_payload(p, m.mid, m.kind),
                    Event::MediaData(d) => {
                        if p.storage.is_none() && d.params.spec().codec.is_audio() {
                            // A storage-session viewer's microphone: received, not stored.
                            self.viewer_audio.inc();
                        }
                        if let Some(link) = &p.storage {
                            let lost = !d.contiguous && d.params.spec().codec == Codec::H264;
                            let media = ReceivedMedia {
                                kind: if d.params.spec().codec.is_audio() {
                                    MediaKind::Audio
                                } else {
                                    MediaKind::Video
                                },
                                time: d.time,
                                contiguous: d.contiguous,
                                data: d.data,
                            };
                            if link.media.is_closed() {
                                self.remove(id);
                                return;
                            }
                            // A storage session that cannot keep up loses frames, never the driver.
                            let _ = link.media.try_send(media);
                            if lost {
                                request_keyframe(p);
                            }
                        }
                    }
                    Event::KeyframeRequest(_) => {
                        // The producer cannot be asked for a key frame (PutMedia is one-way);
                        // lost packets are repaired by NACK, and a new key frame comes with
                        // the next fragment.
                    }
                    _ => {}
                },
            }
        }
        if !self.peers.get(id).is_some_and(|p| p.rtc.is_alive()) {
            self.remove(id);
            return;
        }
        if connected_now {
            if let Some(p) = self.peers.get_mut(id)
                && p.storage.is_some()
            {
                tracing::debug!(session = %id, "storage peer connected");
                request_keyframe(p);
                Box::pin(self.drive(id)).await;
                return;
            }
            self.on_connected(id).await;
        }
    }

    /// A viewer just connected: the stream's last key frame goes out at once.
    async fn on_connected(&mut self, id: &SessionId) {
        let Some(p) = self.peers.get_mut(id) else { return };
        tracing::debug!(session = %id, stream_id = p.viewer.stream_id, "WHEP viewer connected");
        let key = self.streams.get(&p.viewer.stream_id).and_then(|s| s.last_key.clone());
        if let Some(key) = key {
            write_frame(p, &key);
            // Frames between that key frame and now were not sent: wait for the next one.
            p.viewer.waiting_key = true;
            Box::pin(self.drive(id)).await;
        }
    }

    async fn fan_out(&mut self, stream_id: i64, frame: Arc<FeedFrame>) {
        let Some(s) = self.streams.get_mut(&stream_id) else { return };
        if frame.track == FeedTrack::Video && frame.keyframe {
            s.last_key = Some(frame.clone());
        }
        let ids: Vec<SessionId> = s.viewers.iter().cloned().collect();
        let now = Instant::now();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else { continue };
            if !p.connected {
                continue;
            }
            if p.rtc.handle_input(Input::Timeout(now)).is_err() {
                self.remove(&id);
                continue;
            }
            if frame.track == FeedTrack::Video {
                if p.viewer.waiting_key && !frame.keyframe {
                    continue;
                }
                p.viewer.waiting_key = false;
            }
            write_frame(p, &frame);
            self.drive(&id).await;
        }
    }

    async fn close(&mut self, id: &SessionId) {
        if let Some(p) = self.peers.get_mut(id) {
            let _ = p.rtc.close();
            // Flush what closing produced (RTCP BYE, DTLS close_notify).
            while let Ok(out) = p.rtc.poll_output() {
                match out {
                    Output::Transmit(t) => {
                        if let Some(socket) = self.sockets.get(&t.source) {
                            send(socket, &t.contents, t.destination).await;
                        }
                    }
                    Output::Timeout(_) => break,
                    Output::Event(_) => {}
                }
            }
        }
        self.remove(id);
    }

    fn remove(&mut self, id: &SessionId) {
        let Some(p) = self.peers.remove(id) else { return };
        self.sessions.fetch_sub(1, Ordering::Relaxed);
        self.by_source.retain(|_, v| v != id);
        let stream_id = p.viewer.stream_id;
        if p.storage.is_some() {
            return;
        }
        if let Some(s) = self.streams.get_mut(&stream_id) {
            s.viewers.remove(id);
            if s.viewers.is_empty() {
                s.feed.abort();
                self.streams.remove(&stream_id);
            }
        }
    }
}

/// Picks the payload type for a new m-line: H.264 with packetization-mode 1 (constrained
/// baseline preferred, the profile every WebRTC browser decodes) for video, Opus for audio.
fn choose_payload(p: &mut Peer, mid: Mid, kind: MediaKind) {
    let Some(writer) = p.rtc.writer(mid) else { return };
    let params: Vec<_> = writer.payload_params().cloned().collect();
    match kind {
        MediaKind::Video => {
            let h264: Vec<_> = params
                .iter()
                .filter(|pp| pp.spec().codec == Codec::H264 && pp.spec().format.packetization_mode == Some(1))
                .collect();
            let preferred = h264
                .iter()
                .find(|pp| pp.spec().format.profile_level_id.is_some_and(|id| id >> 8 == 0x42e0))
                .or_else(|| h264.first());
            if let Some(pp) = preferred {
                p.viewer.video = Some((mid, pp.pt()));
            }
        }
        MediaKind::Audio => {
            if let Some(pp) = params.iter().find(|pp| pp.spec().codec == Codec::Opus) {
                p.viewer.audio = Some((mid, pp.pt()));
            }
        }
    }
}

/// Asks a storage peer's sender for a key frame (PLI), if it negotiated PLI.
fn request_keyframe(p: &mut Peer) {
    let Some(mid) = p.storage.as_ref().map(|l| l.video_mid) else { return };
    if let Some(mut w) = p.rtc.writer(mid)
        && w.is_request_keyframe_possible(KeyframeRequestKind::Pli)
    {
        let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
    }
}

fn write_frame(p: &mut Peer, frame: &FeedFrame) {
    let target = match frame.track {
        FeedTrack::Video => p.viewer.video,
        FeedTrack::Audio => p.viewer.audio,
    };
    let Some((mid, pt)) = target else { return };
    if let Some(w) = p.rtc.writer(mid)
        && let Err(e) = w.write(pt, Instant::now(), frame.rtp_time, frame.data.clone())
    {
        tracing::debug!("WebRTC write failed: {e}");
    }
}

/// Sends a datagram; when the socket buffer is full, waits for room (backpressure on the driver
/// rather than a silent loss every viewer would NACK).
async fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    match socket.try_send_to(data, to) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            let _ = tokio::time::timeout(Duration::from_millis(50), socket.send_to(data, to)).await;
        }
        Err(_) => {}
    }
}
