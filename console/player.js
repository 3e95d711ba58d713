// The console's video player, in a <video> element.
//
// LIVE plays over WebRTC first: a WHEP session (GetWHEPStreamingSessionURL, POST of the SDP offer,
// frames as the server receives them, sub-second behind). When WebRTC cannot connect (no session
// URL, the POST refused, or no video frame within WEBRTC_FIRST_FRAME_MS: UDP blocked, ICE failed)
// or the connection fails later, it falls back to HLS: GetHLSStreamingSessionURL LIVE played by
// hls.js (the committed build in vendor/, see console/README.md), a few seconds behind.
// A replay is an ON_DEMAND HLS session over a producer-time range, started at the exact moment
// asked for (the playlist carries #EXT-X-PROGRAM-DATE-TIME, so media time maps to wall-clock time
// both ways).

import Hls from './vendor/hls.light.min.mjs';
import { ApiError, call, wireTime } from './api.js';

const SESSION_SECONDS = 43200; // the longest session KVS allows (12 h)
const WEBRTC_FIRST_FRAME_MS = 5000; // WebRTC live view gives way to HLS without a frame by then
const ICE_GATHERING_MS = 1500; // the offer goes out with the candidates gathered by then

export class Player {
  /**
   * @param {HTMLVideoElement} video
   * @param {(state: {phase: string, mode: string|null, message?: string}) => void} onState
   */
  constructor(video, onState) {
    this.video = video;
    this.onState = onState;
    this.hls = null;
    this.webrtc = null; // { pc, resource } of a WHEP session
    this.mode = null; // 'live' | 'replay'
    this.transport = null; // 'webrtc' | 'hls'
    this.generation = 0;
    this.recoveries = 0;
    for (const ev of ['playing', 'waiting', 'pause', 'ended']) {
      video.addEventListener(ev, () => this.emitFromVideo(ev));
    }
  }

  emit(phase, message) {
    this.phase = phase;
    this.onState({ phase, mode: this.mode, transport: this.transport, message });
  }

  emitFromVideo(ev) {
    if (!this.hls && !this.webrtc) return;
    if (ev === 'playing') this.emit('playing');
    else if (ev === 'waiting') this.emit('buffering');
    else if (ev === 'pause' && !this.video.ended) this.emit('paused');
    else if (ev === 'ended') this.emit('ended');
  }

  /** Plays the live edge of a stream: WebRTC (WHEP), else HLS. */
  async live(streamName) {
    const gen = this.begin('live');
    if (await this.liveWebRtc(streamName, gen)) return;
    if (gen === this.generation) await this.liveHls(streamName, gen);
  }

  /**
   * Tries the WHEP live view; true when it plays (or a newer request took over), false when the
   * caller should fall back to HLS.
   */
  async liveWebRtc(streamName, gen) {
    if (typeof RTCPeerConnection === 'undefined') return false;
    let url;
    try {
      const r = await call('GetWHEPStreamingSessionURL', { StreamName: streamName, Expires: 300 });
      url = r.WHEPStreamingSessionURL;
    } catch {
      return gen !== this.generation;
    }
    if (gen !== this.generation) return true;
    const pc = new RTCPeerConnection();
    const session = { pc, resource: null };
    this.webrtc = session;
    const media = new MediaStream();
    pc.addEventListener('track', (e) => media.addTrack(e.track));
    try {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, ICE_GATHERING_MS);
      const resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
      if (resp.status !== 201) throw new Error(`WHEP answered ${resp.status}`);
      const location = resp.headers.get('location');
      if (location) session.resource = new URL(location, new URL(url, window.location.href)).href;
      const answer = await resp.text();
      if (gen !== this.generation) return true;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.video.srcObject = media;
      const p = this.video.play();
      if (p && p.catch) p.catch(() => {});
      if (!(await firstFrame(this.video, WEBRTC_FIRST_FRAME_MS))) throw new Error('no video frame over WebRTC');
    } catch {
      if (this.webrtc === session) this.closeWebRtc();
      return gen !== this.generation;
    }
    if (gen !== this.generation) return true;
    this.transport = 'webrtc';
    this.emit(this.video.paused ? 'paused' : 'playing');
    // A connection lost later: HLS takes over.
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState !== 'failed' || this.webrtc !== session || gen !== this.generation) return;
      this.closeWebRtc();
      this.liveHls(streamName, gen);
    });
    return true;
  }

  /** Plays the live edge over HLS. */
  async liveHls(streamName, gen) {
    this.transport = 'hls';
    try {
      const r = await call('GetHLSStreamingSessionURL', {
        StreamName: streamName,
        PlaybackMode: 'LIVE',
        DisplayFragmentTimestamp: 'ALWAYS',
        Expires: SESSION_SECONDS,
      });
      if (gen !== this.generation) return;
      this.attach(r.HLSStreamingSessionURL, null, gen);
    } catch (e) {
      if (gen !== this.generation) return;
      if (e instanceof ApiError && e.type === 'ResourceNotFoundException') {
        this.emit('offline', 'No fragments in the last 30 seconds: the stream is not receiving video.');
      } else {
        this.emit('error', `${e.message}${e.type ? ` (${e.type})` : ''}`);
      }
    }
  }

  /**
   * Plays recorded video from `fromMs` (producer time) to `toMs`; `fragmentStartMs` is the start
   * of the fragment holding `fromMs` (so the session includes it).
   */
  async replay(streamName, fromMs, toMs, fragmentStartMs = fromMs) {
    const gen = this.begin('replay');
    try {
      const r = await call('GetHLSStreamingSessionURL', {
        StreamName: streamName,
        PlaybackMode: 'ON_DEMAND',
        DisplayFragmentTimestamp: 'ALWAYS',
        Expires: SESSION_SECONDS,
        MaxMediaPlaylistFragmentResults: 5000,
        HLSFragmentSelector: {
          FragmentSelectorType: 'PRODUCER_TIMESTAMP',
          TimestampRange: { StartTimestamp: wireTime(Math.min(fragmentStartMs, fromMs)), EndTimestamp: wireTime(toMs) },
        },
      });
      if (gen !== this.generation) return;
      this.attach(r.HLSStreamingSessionURL, fromMs, gen);
    } catch (e) {
      if (gen !== this.generation) return;
      const msg = e.type === 'ResourceNotFoundException' ? 'No recorded video at that time.' : `${e.message}${e.type ? ` (${e.type})` : ''}`;
      this.emit('error', msg);
    }
  }

  begin(mode) {
    this.destroyHls();
    this.closeWebRtc();
    this.transport = mode === 'live' ? null : 'hls';
    this.mode = mode;
    this.recoveries = 0;
    this.generation += 1;
    this.emit('loading');
    return this.generation;
  }

  attach(url, startAtMs, gen) {
    if (!Hls.isSupported()) {
      this.emit('error', 'This browser cannot play HLS with Media Source Extensions.');
      return;
    }
    const hls = new Hls({
      enableWorker: false,
      lowLatencyMode: false,
      backBufferLength: 90,
      liveSyncDurationCount: 3,
      startPosition: startAtMs == null ? -1 : 0,
      manifestLoadingMaxRetry: 4,
      levelLoadingMaxRetry: 4,
      fragLoadingMaxRetry: 6,
    });
    this.hls = hls;
    let sought = startAtMs == null;
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      if (sought || gen !== this.generation) return;
      sought = true;
      const pos = positionOf(data.details, startAtMs);
      if (pos != null && pos > 0.25) this.video.currentTime = pos;
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal || gen !== this.generation) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.recoveries < 2) {
        this.recoveries += 1;
        hls.recoverMediaError();
        return;
      }
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && this.recoveries < 3) {
        this.recoveries += 1;
        setTimeout(() => gen === this.generation && hls.startLoad(), 1000);
        return;
      }
      this.emit('error', `Playback failed: ${data.details}`);
      this.destroyHls();
    });
    hls.attachMedia(this.video);
    hls.loadSource(url);
    const p = this.video.play();
    if (p && p.catch) p.catch(() => { /* autoplay is muted; a user gesture may still be needed */ });
  }

  /** Producer time (epoch ms) of the frame on screen, when known. */
  wallClockMs() {
    const d = this.hls && this.hls.playingDate;
    return d ? d.getTime() : null;
  }

  /** Ends the WHEP session, if any (DELETE of its resource, as WHEP asks). */
  closeWebRtc() {
    const s = this.webrtc;
    if (!s) return;
    this.webrtc = null;
    s.pc.close();
    if (s.resource) fetch(s.resource, { method: 'DELETE' }).catch(() => {});
    if (this.video.srcObject) this.video.srcObject = null;
  }

  /** Seconds behind the live edge (live mode). */
  latency() {
    return this.hls && this.mode === 'live' ? this.hls.latency : null;
  }

  togglePause() {
    if (!this.hls && !this.webrtc) return;
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  destroyHls() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
  }

  stop() {
    this.generation += 1;
    this.destroyHls();
    this.closeWebRtc();
    this.video.removeAttribute('src');
    this.video.load();
    this.mode = null;
  }
}

/** Resolves when ICE gathering completes or after `ms`, whichever comes first. */
function gathered(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** Resolves true at the first decoded video frame, false if none comes within `ms`. */
function firstFrame(video, ms) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    // requestVideoFrameCallback where available; videoWidth as the fallback signal.
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => finish(true));
    const poll = setInterval(() => video.videoWidth > 0 && video.currentTime > 0 && finish(true), 100);
  });
}

/** Media time (s) of producer time `ms` in a playlist with program date times. */
function positionOf(details, ms) {
  const frags = details && details.fragments;
  if (!frags || !frags.length) return null;
  for (const f of frags) {
    if (f.programDateTime == null) continue;
    if (ms < f.programDateTime + f.duration * 1000) return f.start + Math.max(0, (ms - f.programDateTime) / 1000);
  }
  return null;
}
