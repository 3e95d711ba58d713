// One stream: the live view (HLS LIVE), ingest figures, details, analyzer events, and the timeline of
// recorded fragments with key-frame thumbnails (GetImages) and motion events; click the timeline to
// replay from a moment (ON_DEMAND), select a range to play it or download it as an MP4 (GetClip).

import { call, callAll, can, wireTime } from '../api.js';
import * as fmt from '../format.js';
import { Player } from '../player.js';
import { Timeline } from '../timeline.js';
import { copyButton, dialog, every, field, h, icon, pool, replace, spinner, statValue, statusPill, toast, toastError } from '../ui.js';
import { deleteStream, editRetention, ingestStats } from './streams.js';

const WINDOWS = [
  { label: '1 min', ms: 60_000 },
  { label: '5 min', ms: 5 * 60_000 },
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 3_600_000 },
  { label: '6 h', ms: 6 * 3_600_000 },
  { label: '24 h', ms: 24 * 3_600_000 },
];
const THUMB_W = 256;
const THUMB_H = 144;
const THUMB_SLOT_PX = 132;
const MAX_CACHED_THUMBS = 240;

export function renderStream(main, name) {
  let info = null;
  let stopped = false;
  const cleanups = [];

  // ---------------------------------------------------------------- header
  const pillHost = h('span');
  const tagsHost = h('span');
  const headActions = h('div', { class: 'page-head-actions' });
  replace(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/streams' }, 'Streams'), h('span', { 'aria-hidden': 'true' }, '/'), h('span', null, name)),
    h('div', { class: 'page-head' }, h('h1', null, name), pillHost, tagsHost, h('div', { class: 'spacer' }), headActions),
    h('div', { class: 'loading-row' }, spinner(), 'Loading stream…'));

  // ---------------------------------------------------------------- player
  const video = h('video', { muted: true, playsinline: true, autoplay: true, 'aria-label': `Video of ${name}` });
  video.muted = true;
  const modePill = h('span', { class: 'pill' });
  const clockEl = h('span', { class: 'clock', hidden: true });
  const stateEl = h('div', { class: 'state', role: 'status' });
  const playerBox = h('div', { class: 'player' }, video,
    h('div', { class: 'overlay-top' }, modePill, h('div', { class: 'spacer' }), clockEl), stateEl);
  const playBtn = h('button', { class: 'btn small icon', type: 'button', 'aria-label': 'Pause', title: 'Play / pause (k)', onclick: () => player.togglePause() }, icon('pause'));
  const liveBtn = h('button', { class: 'btn small', type: 'button', title: 'Go to the live edge (l)', onclick: () => goLive() }, icon('live'), 'Live');
  const playerInfo = h('span', { class: 'info num' });
  const muteBtn = h('button', { class: 'btn small icon ghost', type: 'button', 'aria-label': 'Unmute', title: 'Mute / unmute', onclick: () => {
    video.muted = !video.muted;
    muteBtn.setAttribute('aria-label', video.muted ? 'Unmute' : 'Mute');
    replace(muteBtn, icon(video.muted ? 'mute' : 'volume'));
  } }, icon('mute'));
  const fullBtn = h('button', { class: 'btn small icon ghost', type: 'button', 'aria-label': 'Full screen', title: 'Full screen', onclick: () => playerBox.requestFullscreen && playerBox.requestFullscreen() }, icon('expand'));
  const playerCard = h('section', { class: 'card player-card', 'aria-label': 'Player' }, playerBox,
    h('div', { class: 'player-bar' }, playBtn, liveBtn, playerInfo, h('div', { class: 'spacer' }), muteBtn, fullBtn));

  let retryTimer = null;
  const player = new Player(video, (st) => {
    clearTimeout(retryTimer);
    paintMode(st);
    if (st.phase === 'offline') retryTimer = setTimeout(() => player.mode === 'live' && player.phase === 'offline' && goLive(), 5000);
  });
  cleanups.push(() => {
    clearTimeout(retryTimer);
    player.stop();
  });

  function paintMode(st) {
    const live = st.mode === 'live';
    modePill.className = `pill ${live ? 'live' : 'plain'}`;
    modePill.textContent = live ? 'Live' : st.mode === 'replay' ? 'Replay' : '';
    modePill.hidden = !st.mode || ['offline', 'error', 'loading'].includes(st.phase);
    playerBox.dataset.phase = st.phase;
    playerBox.dataset.mode = st.mode || '';
    playerBox.dataset.transport = st.transport || '';
    const show = (title, text, action) => {
      stateEl.hidden = false;
      replace(stateEl, h('div', null, h('div', { class: 'big' }, title), text ? h('div', null, text) : null, action || null));
    };
    switch (st.phase) {
      case 'loading': show(h('span', null, spinner(), ' Connecting…')); break;
      case 'offline': show('Stream offline', st.message, h('button', { class: 'btn', type: 'button', onclick: () => goLive() }, icon('refresh'), 'Retry now')); break;
      case 'error': show('Cannot play', st.message, h('button', { class: 'btn', type: 'button', onclick: () => goLive() }, icon('live'), 'Go live')); break;
      case 'ended': show('End of the recording', 'Pick another moment on the timeline, or go live.', h('button', { class: 'btn primary', type: 'button', onclick: () => goLive() }, icon('live'), 'Go live')); break;
      default: stateEl.hidden = true;
    }
    const paused = st.phase === 'paused';
    playBtn.setAttribute('aria-label', paused ? 'Play' : 'Pause');
    replace(playBtn, icon(paused ? 'play' : 'pause'));
    liveBtn.classList.toggle('primary', !live);
  }

  function goLive() {
    if (!can('GetHLSStreamingSessionURL')) return;
    player.live(name);
  }

  function replayFrom(ms) {
    if (!can('GetHLSStreamingSessionURL')) return;
    const frag = fragmentAt(ms);
    const to = Math.min(Date.now(), ms + 6 * 3_600_000);
    player.replay(name, ms, Math.max(to, ms + 1000), frag ? frag.start : ms);
  }

  // Clock, latency and playhead, four times a second.
  const tick = setInterval(() => {
    const wall = player.wallClockMs();
    clockEl.hidden = wall == null;
    if (wall != null) clockEl.textContent = fmt.dateTime(wall);
    timeline.setPlayhead(wall);
    const lat = player.latency();
    if (player.mode === 'live' && player.transport === 'webrtc') playerInfo.textContent = 'Real time (WebRTC)';
    else if (player.mode === 'live' && wall != null) playerInfo.textContent = `${fmt.duration(Date.now() - wall)} behind real time`;
    else if (player.mode === 'replay' && wall != null) playerInfo.textContent = `Replaying ${fmt.clock(wall)} · ${fmt.ago(Date.now() - wall)}`;
    else playerInfo.textContent = lat != null ? `${lat.toFixed(1)} s behind live` : '';
  }, 250);
  cleanups.push(() => clearInterval(tick));

  const onKey = (ev) => {
    if (ev.target.closest && ev.target.closest('input, textarea, select, dialog, .tl-track')) return;
    if (ev.key === 'k') player.togglePause();
    else if (ev.key === 'l') goLive();
    else return;
    ev.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  cleanups.push(() => document.removeEventListener('keydown', onKey));

  // ---------------------------------------------------------------- side panels
  // Bitrate and fragment count are over the stream list's window (the last 30 s), and say so.
  const stat = (label, window, title) => {
    const v = h('div', { class: 'v' }, '—');
    const l = h('div', { class: 'l' }, label, window ? h('span', { class: 'w' }, window) : null);
    return { v, el: h('div', { class: 'stat', title }, v, l) };
  };
  const sRate = stat('Bitrate', 'last 30 s', 'Ingest bitrate over the last 30 s');
  const sAge = stat('Last fragment', null, 'Time since the newest fragment arrived');
  const sCount = stat('Fragments', 'last 30 s', 'Fragments received in the last 30 s');
  const ingestCard = h('section', { class: 'card', 'aria-label': 'Ingest' }, h('div', { class: 'stat-row' }, sRate.el, sAge.el, sCount.el));
  const details = h('dl', { class: 'kv' });
  const detailsCard = h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Details')), h('div', { class: 'card-body' }, details));
  // The camera this stream records, when an edge configuration exists (hidden otherwise).
  const cameraBody = h('dl', { class: 'kv' });
  const cameraPill = h('span');
  const cameraCard = h('section', { class: 'card', 'aria-label': 'Camera', hidden: true },
    h('div', { class: 'card-head' }, h('h2', null, 'Camera'), cameraPill), h('div', { class: 'card-body' }, cameraBody));
  const eventsList = h('ul', { class: 'events', 'aria-label': 'Analyzer events' });
  const eventsCount = h('span', { class: 'muted' });
  // Detection events: a filter by label name (the time range is the timeline's window).
  let labelFilter = '';
  let lastPainted = null;
  const labelSelect = h('select', { 'aria-label': 'Show label', onchange: () => {
    labelFilter = labelSelect.value;
    if (lastPainted) paintEvents(...lastPainted);
  } }, h('option', { value: '' }, 'All events'));
  const eventsCard = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', null, 'Events'), labelSelect, eventsCount), eventsList);

  // ---------------------------------------------------------------- timeline
  let windowMs = WINDOWS[2].ms;
  let follow = true;
  let windowEnd = Date.now();
  let selection = null;
  const frags = new Map(); // FragmentNumber -> {start, end, number}
  let fragsRange = null; // [start, end] covered by `frags`
  const thumbCache = new Map(); // FragmentNumber -> {url|null}
  let imagesUnavailable = null;

  const timeline = new Timeline({
    onSeek: (ms) => replayFrom(ms),
    onSelect: (range) => {
      selection = range && range.end - range.start >= 500 ? range : null;
      timeline.setSelection(selection);
      paintSelection();
    },
    onEvent: (m) => replayFrom(m.ms - 2000),
  });

  const seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Time window' }, WINDOWS.map((w) => h('button', {
    type: 'button', 'aria-pressed': String(w.ms === windowMs), dataset: { window: w.label },
    onclick: (ev) => {
      windowMs = w.ms;
      for (const b of seg.children) b.setAttribute('aria-pressed', String(b === ev.currentTarget));
      if (follow) windowEnd = Date.now();
      refreshTimeline(true);
    },
  }, w.label)));
  const panBack = h('button', { class: 'btn small', type: 'button', title: 'Earlier', 'aria-label': 'Earlier', onclick: () => pan(-0.5) }, '‹');
  const panFwd = h('button', { class: 'btn small', type: 'button', title: 'Later', 'aria-label': 'Later', onclick: () => pan(0.5) }, '›');
  const nowBtn = h('button', { class: 'btn small', type: 'button', title: 'Follow the present', onclick: () => {
    follow = true;
    windowEnd = Date.now();
    refreshTimeline(true);
  } }, 'Now');
  // "Every person yesterday between 10:00 and 11:00": a window of any range, and a label.
  const rangeBtn = h('button', { class: 'btn small', type: 'button', title: 'Show a time range, optionally only one label', onclick: () => chooseRange() }, 'Range…');
  const rangeLabel = h('span', { class: 'muted num nowrap' });
  const legend = h('div', { class: 'tl-legend', 'aria-hidden': 'true' },
    h('span', null, h('i', { class: 'l-frag' }), 'Recorded'), h('span', null, h('i', { class: 'l-motion' }), 'Motion'), h('span', null, h('i', { class: 'l-play' }), 'Playhead'));
  const selInfo = h('div', { class: 'sel-info' });
  const clipBtn = h('button', { class: 'btn primary', type: 'button', onclick: () => downloadClip() }, icon('download'), 'Download clip');
  const playSelBtn = h('button', { class: 'btn', type: 'button', onclick: () => selection && player.replay(name, selection.start, selection.end, (fragmentAt(selection.start) || {}).start ?? selection.start) }, icon('play'), 'Play selection');
  const clearSelBtn = h('button', { class: 'btn ghost', type: 'button', onclick: () => timeline.onSelect(null) }, 'Clear');
  const tlFoot = h('div', { class: 'tl-foot' });
  const timelineCard = h('section', { class: 'card timeline-card', 'aria-label': 'Timeline' },
    h('div', { class: 'card-head' }, h('h2', null, 'Timeline'), seg, panBack, nowBtn, panFwd, rangeBtn, rangeLabel, h('div', { class: 'spacer' }), legend),
    timeline.el, tlFoot);

  function paintSelection() {
    if (!selection) {
      replace(tlFoot, h('span', { class: 'muted' },
        'Click the timeline to play from that moment; drag to select a range for a clip. Keys: ',
        h('span', { class: 'kbd' }, '←'), ' ', h('span', { class: 'kbd' }, '→'), ' move, ', h('span', { class: 'kbd' }, 'Enter'), ' play, ',
        h('span', { class: 'kbd' }, '['), ' ', h('span', { class: 'kbd' }, ']'), ' select, ', h('span', { class: 'kbd' }, 'k'), ' pause, ', h('span', { class: 'kbd' }, 'l'), ' live.'));
      return;
    }
    replace(selInfo, h('strong', null, 'Selection '), h('span', { class: 'num' }, `${fmt.clock(selection.start)} – ${fmt.clock(selection.end)}`), h('span', { class: 'muted' }, ` (${fmt.duration(selection.end - selection.start)})`));
    clipBtn.hidden = !can('GetClip');
    replace(tlFoot, selInfo, h('div', { class: 'spacer' }), playSelBtn, clipBtn, clearSelBtn);
  }

  /** `datetime-local` value (local time, seconds) of epoch ms, and back. */
  const localInput = (ms) => {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
    return d.toISOString().slice(0, 19);
  };

  async function chooseRange() {
    const known = new Set(['person', 'face', 'cat', 'dog', 'car']);
    if (lastPainted) for (const e of lastPainted[0]) if (e.Kind === 'object_start' && e.Detail && e.Detail.Name) known.add(e.Detail.Name);
    if (labelFilter) known.add(labelFilter);
    const from = h('input', { type: 'datetime-local', name: 'from', step: '1', required: true, value: localInput(windowEnd - windowMs) });
    const to = h('input', { type: 'datetime-local', name: 'to', step: '1', required: true, value: localInput(windowEnd) });
    const label = h('select', { name: 'label' }, h('option', { value: '' }, 'Every event'),
      [...known].sort().map((n) => h('option', { value: n }, `Only “${n}”`)));
    label.value = labelFilter;
    const range = await dialog({
      title: 'Show a time range',
      description: 'The timeline and the events list show this range (local time); pick a label to see only its appearances.',
      body: [field('From', from), field('To', to), field('Label', label)],
      submitLabel: 'Show',
      submit: () => {
        const start = new Date(from.value).getTime();
        const end = new Date(to.value).getTime();
        if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error('Enter both times.');
        if (end - start < 10_000) throw new Error('The range must end at least 10 s after it starts.');
        return { start, end, label: label.value };
      },
    });
    if (!range) return;
    labelFilter = range.label;
    windowMs = range.end - range.start;
    windowEnd = range.end;
    follow = false;
    for (const b of seg.children) b.setAttribute('aria-pressed', String(WINDOWS.find((w) => w.label === b.dataset.window).ms === windowMs));
    refreshTimeline(true);
  }

  function pan(f) {
    follow = false;
    windowEnd = Math.min(Date.now(), windowEnd + f * windowMs);
    if (windowEnd >= Date.now() - 1000) follow = true;
    refreshTimeline(true);
  }

  function fragmentAt(ms) {
    let best = null;
    for (const f of frags.values()) if (f.start <= ms && ms < f.end + 500 && (!best || f.start > best.start)) best = f;
    return best;
  }

  async function loadFragments(start, end, full) {
    if (full || !fragsRange || start < fragsRange[0] || end - fragsRange[1] > windowMs) {
      frags.clear();
      fragsRange = [start, start];
    }
    const from = Math.max(start, fragsRange[1] - 30_000);
    const list = await callAll('ListFragments', {
      StreamName: name,
      MaxResults: 1000,
      FragmentSelector: { FragmentSelectorType: 'PRODUCER_TIMESTAMP', TimestampRange: { StartTimestamp: wireTime(from), EndTimestamp: wireTime(end) } },
    }, 'Fragments', { limit: 50_000 });
    for (const f of list) {
      const st = fmt.fromWire(f.ProducerTimestamp);
      frags.set(f.FragmentNumber, { number: f.FragmentNumber, start: st, end: st + (f.FragmentLengthInMilliseconds || 0), size: f.FragmentSizeInBytes });
    }
    for (const [k, f] of frags) if (f.end < start) frags.delete(k);
    fragsRange = [start, end];
  }

  async function loadEvents(start, end) {
    if (!can('ListAnalyzerEvents')) return [];
    try {
      return await callAll('ListAnalyzerEvents', { StreamName: name, StartTimestamp: wireTime(start - 600_000), EndTimestamp: wireTime(end), MaxResults: 1000 }, 'Events', { limit: 5000 });
    } catch (e) {
      if (e.type !== 'UnknownOperationException') throw e;
      return [];
    }
  }

  function paintEvents(events, end) {
    lastPainted = [events, end];
    const names = [...new Set(events.filter((e) => e.Kind === 'object_start' && e.Detail && e.Detail.Name).map((e) => e.Detail.Name))].sort();
    if (labelFilter && !names.includes(labelFilter)) names.push(labelFilter);
    const options = [h('option', { value: '' }, 'All events'), ...names.map((n) => h('option', { value: n }, `Only “${n}”`))];
    replace(labelSelect, options);
    labelSelect.value = labelFilter;
    labelSelect.hidden = !names.length;
    if (labelFilter) events = events.filter((e) => e.Kind.startsWith('object_') && e.Detail && e.Detail.Name === labelFilter);
    const spans = [];
    const markers = [];
    const open = [];
    const sorted = [...events].sort((a, b) => a.ProducerTimestamp - b.ProducerTimestamp);
    for (const e of sorted) {
      const at = fmt.fromWire(e.ProducerTimestamp);
      if (e.Kind === 'motion_start') {
        open.push(at);
        markers.push({ ms: at, kind: 'motion', label: 'Motion', event: e });
      } else if (e.Kind === 'motion_end') {
        const startMs = e.Detail && e.Detail.StartTimestamp != null ? fmt.fromWire(e.Detail.StartTimestamp) : open[0] ?? at;
        const i = open.findIndex((o) => Math.abs(o - startMs) < 1000);
        if (i >= 0) open.splice(i, 1);
        else open.shift();
        spans.push({ start: startMs, end: fmt.fromWire(e.EndTimestamp) ?? at });
      } else if (e.Kind === 'analyzer_error') {
        markers.push({ ms: at, kind: 'error', label: `${e.Worker} error`, event: e });
      } else if (e.Kind === 'object_start') {
        markers.push({ ms: at, kind: 'label', label: `${e.Detail.Name} (${Math.round(e.Detail.Confidence || 0)}%)`, event: e });
      }
    }
    for (const o of open) spans.push({ start: o, end });
    timeline.setEvents(spans, markers);

    // Per-picture `label` events are many; their spans (object_start/object_end) are listed.
    const shown = sorted.filter((e) => e.Kind !== 'image' && e.Kind !== 'label').reverse().slice(0, 100);
    eventsCount.textContent = shown.length ? `${shown.length}${shown.length === 100 ? '+' : ''} in window` : '';
    if (!shown.length) {
      dropEventImages(new Set());
      replace(eventsList, h('li', { class: 'empty' }, can('ListAnalyzerEvents') ? 'No events in this window.' : 'Your key may not list events.'));
      return;
    }
    dropEventImages(new Set(shown.map((e) => e.EventId)));
    replace(eventsList, shown.map((e) => {
      const at = fmt.fromWire(e.ProducerTimestamp);
      const isMotion = e.Kind.startsWith('motion');
      const isObject = e.Kind.startsWith('object_');
      const name = isObject && e.Detail ? e.Detail.Name : '';
      const label = { motion_start: 'Motion started', motion_end: 'Motion ended', analyzer_error: 'Analyzer error', object_start: `${name} appeared`, object_end: `${name} gone` }[e.Kind] || e.Kind;
      const extra = (e.Kind === 'motion_end' || e.Kind === 'object_end') && e.Detail && e.Detail.StartTimestamp != null
        ? `lasted ${fmt.duration(at - fmt.fromWire(e.Detail.StartTimestamp))}${e.Score != null ? ` · peak ${(e.Score * 100).toFixed(1)}%` : ''}`
        : e.Score != null ? `score ${(e.Score * 100).toFixed(1)}%` : e.Worker;
      // The frame with its boxes drawn, as the detection worker recorded it.
      const url = e.Kind === 'object_start' ? eventImage(e) : null;
      const thumb = url ? h('img', { class: 'event-thumb', alt: `${name} with its box`, src: url, dataset: { event: e.EventId } }) : null;
      return h('li', null, h('button', { type: 'button', title: 'Play from here', onclick: () => replayFrom(at - 2000) },
        h('span', { class: ['dot', isMotion ? 'motion' : isObject ? 'object' : e.Kind.includes('error') ? 'error' : ''] }),
        h('span', { class: 'what' }, label, h('small', null, extra), thumb),
        h('span', { class: 'when' }, fmt.clock(at))));
    }));
  }

  // The JPEG an object_start event carries, as a blob: URL (the console's CSP allows no data:
  // images), kept per event while it is listed.
  const eventImages = new Map(); // EventId -> blob: URL
  function eventImage(e) {
    const t = e.Detail && e.Detail.Thumbnail;
    if (!t || !t.Base64) return null;
    let url = eventImages.get(e.EventId);
    if (!url) {
      const raw = atob(t.Base64);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      url = URL.createObjectURL(new Blob([bytes], { type: t.ContentType || 'image/jpeg' }));
      eventImages.set(e.EventId, url);
    }
    return url;
  }
  function dropEventImages(keep) {
    for (const [id, url] of eventImages) {
      if (!keep.has(id)) {
        URL.revokeObjectURL(url);
        eventImages.delete(id);
      }
    }
  }
  cleanups.push(() => dropEventImages(new Set()));

  async function thumbnail(frag) {
    if (thumbCache.has(frag.number)) return thumbCache.get(frag.number);
    const entry = { url: null, pending: null };
    thumbCache.set(frag.number, entry);
    entry.pending = (async () => {
      const r = await call('GetImages', {
        StreamName: name,
        ImageSelectorType: 'PRODUCER_TIMESTAMP',
        StartTimestamp: wireTime(frag.start),
        EndTimestamp: wireTime(frag.start + Math.max(1, Math.min(1000, frag.end - frag.start))),
        SamplingInterval: 3000,
        Format: 'JPEG',
        FormatConfig: { JPEGQuality: '70' },
        WidthPixels: THUMB_W,
        HeightPixels: THUMB_H,
        MaxResults: 1,
      });
      const img = (r.Images || []).find((i) => i.ImageContent);
      if (img) {
        const raw = atob(img.ImageContent);
        const bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        entry.url = URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
      }
      return entry;
    })();
    try {
      await entry.pending;
    } catch (e) {
      thumbCache.delete(frag.number);
      throw e;
    }
    while (thumbCache.size > MAX_CACHED_THUMBS) {
      const [k, old] = thumbCache.entries().next().value;
      if (old.url) URL.revokeObjectURL(old.url);
      thumbCache.delete(k);
    }
    return entry;
  }

  async function paintThumbnails(start, end) {
    const slots = Math.max(3, Math.floor(timeline.width() / THUMB_SLOT_PX));
    // Slots on a grid aligned to the epoch, so they stay put (and cached) as the window follows now.
    const d = Math.ceil((end - start) / slots / 1000) * 1000;
    const list = [...frags.values()].sort((a, b) => a.start - b.start);
    const out = [];
    for (let g = Math.floor(start / d) * d; g < end; g += d) {
      const frag = list.find((f) => f.start >= Math.max(g, start) && f.start < Math.min(g + d, end));
      out.push({ start: g, end: g + d, frag, ms: frag ? frag.start : null, url: null, state: frag ? 'loading' : 'empty' });
    }
    const paint = () => timeline.setThumbnails(out);
    for (const slot of out) {
      const cached = slot.frag && thumbCache.get(slot.frag.number);
      if (cached && cached.url) {
        slot.url = cached.url;
        slot.state = 'ok';
      }
    }
    paint();
    if (!can('GetImages') || imagesUnavailable) {
      for (const slot of out) if (slot.state === 'loading') slot.state = 'empty';
      paint();
      return;
    }
    const todo = out.filter((sl) => sl.state === 'loading');
    await pool(todo, 4, async (slot) => {
      try {
        const entry = await thumbnail(slot.frag);
        slot.url = entry.url;
        slot.state = entry.url ? 'ok' : 'empty';
      } catch (e) {
        slot.state = 'empty';
        if (e.type === 'UnknownOperationException' || e.type === 'NotAuthorizedException' || e.type === 'AccessDeniedException') imagesUnavailable = e.type;
      }
      if (!stopped) paint();
    });
  }

  let timelineBusy = false;
  async function refreshTimeline(full = false) {
    if (timelineBusy && !full) return;
    timelineBusy = true;
    try {
      if (follow) windowEnd = Date.now();
      const end = windowEnd;
      const start = end - windowMs;
      rangeLabel.textContent = `${fmt.dateTime(start)} – ${fmt.clock(end)}`;
      timeline.setWindow(start, end);
      if (can('ListFragments')) {
        await loadFragments(start, end, full);
        timeline.setFragments([...frags.values()]);
      }
      const events = await loadEvents(start, end).catch((e) => {
        toastError('Events could not be loaded', e);
        return [];
      });
      paintEvents(events, end);
      if (!stopped) await paintThumbnails(start, end);
    } catch (e) {
      toastError('Timeline could not be loaded', e);
    } finally {
      timelineBusy = false;
    }
  }

  async function downloadClip() {
    if (!selection) return;
    const sel = selection;
    clipBtn.disabled = true;
    replace(clipBtn, spinner(), 'Preparing clip…');
    try {
      const frag = fragmentAt(sel.start);
      const blob = await call('GetClip', {
        StreamName: name,
        ClipFragmentSelector: {
          FragmentSelectorType: 'PRODUCER_TIMESTAMP',
          TimestampRange: { StartTimestamp: wireTime(frag ? frag.start : sel.start), EndTimestamp: wireTime(sel.end) },
        },
      }, { binary: true });
      const stamp = new Date(sel.start).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      const fileName = `${name}_${stamp}_${Math.round((sel.end - sel.start) / 1000)}s.mp4`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: fileName, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      toast('Clip downloaded', `${fileName} · ${fmt.bytes(blob.size)}`, 'ok');
    } catch (e) {
      toastError('The clip could not be made', e);
    } finally {
      clipBtn.disabled = false;
      replace(clipBtn, icon('download'), 'Download clip');
    }
  }

  // ---------------------------------------------------------------- ingest figures
  async function refreshIngest() {
    if (!can('ListFragments')) return;
    try {
      const st = await ingestStats(name);
      statValue(sRate.v, st.bitrate == null ? 'idle' : fmt.bitrate(st.bitrate));
      statValue(sAge.v, st.lastServerMs ? fmt.ago(Date.now() - st.lastServerMs) : '> 30 s ago');
      statValue(sCount.v, String(st.fragments));
    } catch (e) {
      statValue(sRate.v, 'n/a');
    }
  }

  // ---------------------------------------------------------------- camera (edge configuration)
  function jobRow(label, job, statusKey) {
    if (!job) return [h('dt', null, label), h('dd', null, 'no report yet')];
    return [h('dt', null, label), h('dd', { 'data-job': statusKey }, statusPill(job[statusKey]), ' ', job.JobStatusDetails || '',
      h('small', { class: 'muted' }, ` (${fmt.ago(Date.now() - fmt.fromWire(job.LastCollectedTime))})`))];
  }

  async function refreshCamera() {
    if (!can('DescribeEdgeConfiguration')) return;
    let d;
    try {
      d = await call('DescribeEdgeConfiguration', { StreamName: name });
    } catch (e) {
      cameraCard.hidden = true;
      return;
    }
    const cfg = d.EdgeConfig || {};
    const source = (cfg.RecorderConfig && cfg.RecorderConfig.MediaSourceConfig) || {};
    const status = d.EdgeAgentStatus || {};
    const upload = cfg.UploaderConfig && cfg.UploaderConfig.ScheduleConfig;
    cameraCard.hidden = false;
    cameraCard.dataset.sync = d.SyncStatus;
    replace(cameraPill, statusPill(d.SyncStatus));
    replace(cameraBody,
      h('dt', null, 'Source'), h('dd', { class: 'mono' }, `${source.MediaUriType || 'RTSP_URI'} from secret `, source.MediaUriSecretArn || '—'),
      h('dt', null, 'Hub device'), h('dd', { class: 'mono' }, cfg.HubDeviceArn || '—'),
      h('dt', null, 'Upload'), h('dd', null, upload ? `${upload.ScheduleExpression} for ${upload.DurationInSeconds} s` : 'live'),
      d.FailedStatusDetails ? [h('dt', null, 'Problem'), h('dd', { class: 'danger-text', 'data-failed': '' }, d.FailedStatusDetails)] : null,
      jobRow('Recorder', status.LastRecorderStatus, 'RecorderStatus'),
      jobRow('Uploader', status.LastUploaderStatus, 'UploaderStatus'));
  }

  // ---------------------------------------------------------------- load
  function paintInfo(tags) {
    replace(pillHost, statusPill(info.Status));
    const analyzers = tags && tags['openkvs:analyzers'];
    replace(tagsHost, analyzers != null ? (analyzers ? analyzers.split(',').map((a) => h('span', { class: 'tag', title: 'openkvs:analyzers' }, a.trim())) : h('span', { class: 'tag' }, 'no analyzers')) : null);
    replace(details,
      h('dt', null, 'ARN'), h('dd', { class: 'mono' }, info.StreamARN, ' ', copyButton(info.StreamARN, 'Copy ARN')),
      h('dt', null, 'Media type'), h('dd', null, info.MediaType || '—'),
      h('dt', null, 'Retention'), h('dd', null, fmt.retention(info.DataRetentionInHours)),
      h('dt', null, 'Created'), h('dd', null, fmt.dateTime(fmt.fromWire(info.CreationTime))),
      h('dt', null, 'Version'), h('dd', { class: 'mono' }, info.Version),
      tags ? [h('dt', null, 'Tags'), h('dd', null, Object.keys(tags).length ? Object.entries(tags).map(([k, v]) => h('span', { class: 'tag' }, `${k}=`, v.split(',').map((part, i) => [i ? [',', h('wbr')] : null, part]))) : '—')] : null);
    replace(headActions,
      can('UpdateDataRetention') ? h('button', { class: 'btn', type: 'button', onclick: () => editRetention(info, reloadInfo) }, icon('edit'), 'Retention') : null,
      can('DeleteStream') ? h('button', { class: 'btn danger', type: 'button', onclick: () => deleteStream(info, () => (location.hash = '#/streams')) }, icon('trash'), 'Delete') : null);
  }

  async function reloadInfo() {
    info = (await call('DescribeStream', { StreamName: name })).StreamInfo;
    let tags = null;
    if (can('ListTagsForStream')) {
      tags = await call('ListTagsForStream', { StreamName: name }).then((r) => r.Tags || {}).catch(() => null);
    }
    paintInfo(tags);
  }

  (async () => {
    try {
      await reloadInfo();
    } catch (e) {
      if (stopped) return;
      replace(main, h('nav', { class: 'crumbs' }, h('a', { href: '#/streams' }, 'Streams'), h('span', null, '/'), h('span', null, name)),
        h('div', { class: 'card empty' }, h('h2', null, e.type === 'ResourceNotFoundException' ? 'Stream not found' : 'The stream cannot be shown'),
          h('p', null, `${e.message} (${e.type})`), h('a', { class: 'btn', href: '#/streams' }, 'Back to streams')));
      return;
    }
    if (stopped) return;
    main.lastElementChild.replaceWith(
      h('div', { class: 'stream-grid' }, playerCard, h('div', { class: 'side' }, ingestCard, cameraCard, eventsCard, detailsCard)),
      timelineCard);
    paintSelection();
    goLive();
    cleanups.push(every(5000, refreshIngest));
    cleanups.push(every(5000, refreshCamera));
    cleanups.push(every(10_000, () => follow && refreshTimeline(false)));
    if (!follow) refreshTimeline(true);
  })();

  return () => {
    stopped = true;
    for (const c of cleanups) c();
    for (const e of thumbCache.values()) if (e.url) URL.revokeObjectURL(e.url);
  };
}
