// The console's video player: HLS session URLs from GetHLSStreamingSessionURL played by hls.js
// (the committed build in vendor/, see console/README.md) in a <video> element.
//
// LIVE follows the live edge; a replay is an ON_DEMAND session over a producer-time range, started
// at the exact moment asked for (the playlist carries #EXT-X-PROGRAM-DATE-TIME, so media time maps
// to wall-clock time both ways).

import Hls from './vendor/hls.light.min.mjs';
import { ApiError, call, wireTime } from './api.js';

const SESSION_SECONDS = 43200; // the longest session KVS allows (12 h)

export class Player {
  /**
   * @param {HTMLVideoElement} video
   * @param {(state: {phase: string, mode: string|null, message?: string}) => void} onState
   */
  constructor(video, onState) {
    this.video = video;
    this.onState = onState;
    this.hls = null;
    this.mode = null; // 'live' | 'replay'
    this.generation = 0;
    this.recoveries = 0;
    for (const ev of ['playing', 'waiting', 'pause', 'ended']) {
      video.addEventListener(ev, () => this.emitFromVideo(ev));
    }
  }

  emit(phase, message) {
    this.phase = phase;
    this.onState({ phase, mode: this.mode, message });
  }

  emitFromVideo(ev) {
    if (!this.hls) return;
    if (ev === 'playing') this.emit('playing');
    else if (ev === 'waiting') this.emit('buffering');
    else if (ev === 'pause' && !this.video.ended) this.emit('paused');
    else if (ev === 'ended') this.emit('ended');
  }

  /** Plays the live edge of a stream. */
  async live(streamName) {
    const gen = this.begin('live');
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

  /** Seconds behind the live edge (live mode). */
  latency() {
    return this.hls && this.mode === 'live' ? this.hls.latency : null;
  }

  togglePause() {
    if (!this.hls) return;
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
    this.video.removeAttribute('src');
    this.video.load();
    this.mode = null;
  }
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
