// The stream list: every stream of the region with status, retention, ingest bitrate and the age of
// the last fragment (from ListFragments over the last 30 s of each stream, polled every 5 s while
// the page is visible); create, change retention, delete.

import { call, callAll, can, wireTime } from '../api.js';
import * as fmt from '../format.js';
import { dialog, every, field, h, icon, pool, replace, spinner, statusPill, toast, toastError } from '../ui.js';

const STATS_WINDOW_MS = 30_000;
const POLL_MS = 5_000;
const NAME_RE = /^[a-zA-Z0-9_.-]{1,256}$/;

/** Ingest figures of a stream from its recent fragments. */
export async function ingestStats(streamName, nowMs = Date.now(), { signal } = {}) {
  const frags = await callAll('ListFragments', {
    StreamName: streamName,
    MaxResults: 1000,
    FragmentSelector: {
      FragmentSelectorType: 'SERVER_TIMESTAMP',
      TimestampRange: { StartTimestamp: wireTime(nowMs - STATS_WINDOW_MS), EndTimestamp: wireTime(nowMs + 5000) },
    },
  }, 'Fragments', { limit: 1000, signal });
  if (!frags.length) return { fragments: 0, bitrate: null, lastServerMs: null };
  let bits = 0;
  let mediaMs = 0;
  let last = 0;
  for (const f of frags) {
    bits += (f.FragmentSizeInBytes || 0) * 8;
    mediaMs += f.FragmentLengthInMilliseconds || 0;
    last = Math.max(last, fmt.fromWire(f.ServerTimestamp));
  }
  return { fragments: frags.length, bitrate: mediaMs > 0 ? (bits * 1000) / mediaMs : null, lastServerMs: last };
}

function ageClass(ageMs) {
  if (ageMs == null) return 'age-idle';
  return ageMs < 10_000 ? 'age-fresh' : ageMs < 30_000 ? 'age-stale' : 'age-idle';
}

export function renderStreams(main) {
  const filter = h('input', { type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter streams by name' });
  filter.style.width = '220px';
  const count = h('span', { class: 'sub' });
  const cameraBtn = can('StartEdgeConfigurationUpdate') && can('CreateStream')
    ? h('button', { class: 'btn', type: 'button', onclick: () => addCamera(refresh) }, icon('plus'), 'Add camera')
    : null;
  const createBtn = can('CreateStream')
    ? h('button', { class: 'btn primary', type: 'button', onclick: () => createStream(refresh) }, icon('plus'), 'Create stream')
    : null;
  const tbody = h('tbody');
  const body = h('div', { class: 'table-wrap' }, h('div', { class: 'loading-row' }, spinner(), 'Loading streams…'));
  const table = h('table', { class: 'data', 'aria-label': 'Streams' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Media type'),
      h('th', { scope: 'col' }, 'Retention'), h('th', { scope: 'col' }, 'Ingest (30 s)'),
      h('th', { scope: 'col' }, 'Last fragment'), h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);

  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Streams'), count, h('div', { class: 'spacer' }), filter, cameraBtn, createBtn),
    h('section', { class: 'card' }, body));

  const rows = new Map(); // name -> {tr, info, cells, stats}
  const lastSeen = new Map(); // name -> last fragment server time seen this visit
  let streams = [];
  let loadedOnce = false;

  function rowFor(info) {
    let r = rows.get(info.StreamName);
    if (!r) {
      const cells = {
        status: h('td'), media: h('td', { class: 'muted' }), retention: h('td', { class: 'num' }),
        rate: h('td', { class: 'num nowrap' }), age: h('td', { class: 'num nowrap' }), created: h('td', { class: 'muted nowrap' }),
      };
      const link = h('a', { href: `#/streams/${encodeURIComponent(info.StreamName)}` }, info.StreamName);
      const actions = h('td', { class: 'actions' },
        can('UpdateDataRetention') ? h('button', { class: 'btn small', type: 'button', title: 'Change retention', onclick: () => editRetention(r.info, refresh) }, icon('edit'), 'Retention') : null,
        can('DeleteStream') ? h('button', { class: 'btn small danger', type: 'button', 'aria-label': `Delete ${info.StreamName}`, title: 'Delete stream', onclick: () => deleteStream(r.info, refresh) }, icon('trash')) : null);
      const tr = h('tr', { dataset: { stream: info.StreamName } },
        h('td', { class: 'name' }, link), cells.status, cells.media, cells.retention, cells.rate, cells.age, cells.created, actions);
      r = { tr, cells, info, stats: null };
      rows.set(info.StreamName, r);
    }
    r.info = info;
    replace(r.cells.status, statusPill(info.Status));
    replace(r.cells.media, info.MediaType || '—');
    replace(r.cells.retention, fmt.retention(info.DataRetentionInHours));
    replace(r.cells.created, fmt.dateTime(fmt.fromWire(info.CreationTime)));
    paintStats(r);
    return r;
  }

  function paintStats(r) {
    const st = r.stats;
    const seen = lastSeen.get(r.info.StreamName);
    if (!st) {
      replace(r.cells.rate, h('span', { class: 'faint' }, '…'));
    } else if (st.error) {
      replace(r.cells.rate, h('span', { class: 'faint', title: st.error }, 'n/a'));
    } else if (st.bitrate == null) {
      replace(r.cells.rate, h('span', { class: 'faint' }, 'idle'));
    } else {
      const pct = Math.min(100, (Math.log10(Math.max(st.bitrate, 1e4)) - 4) * 33); // 10 kbit/s .. 10 Mbit/s
      const bar = h('span', { class: 'bar', 'aria-hidden': 'true' }, h('i'));
      bar.firstChild.style.width = `${pct.toFixed(0)}%`;
      replace(r.cells.rate, h('span', { class: 'rate' }, bar, fmt.bitrate(st.bitrate)));
    }
    if (seen) {
      const age = Date.now() - seen;
      replace(r.cells.age, h('span', { class: ageClass(age), title: fmt.dateTime(seen) }, fmt.ago(age)));
    } else {
      replace(r.cells.age, h('span', { class: 'faint' }, st ? 'none in 30 s' : '…'));
    }
  }

  async function refresh() {
    try {
      streams = await callAll('ListStreams', { MaxResults: 1000 }, 'StreamInfoList');
    } catch (e) {
      if (!loadedOnce) replace(body, h('div', { class: 'empty' }, h('h2', null, 'Streams cannot be listed'), h('p', null, `${e.message} (${e.type})`)));
      else toastError('Refreshing streams failed', e);
      return;
    }
    const first = !loadedOnce;
    loadedOnce = true;
    render();
    if (first || !document.hidden) await refreshStats();
  }

  function render() {
    const q = filter.value.trim().toLowerCase();
    const shown = streams.filter((s) => !q || s.StreamName.toLowerCase().includes(q));
    count.textContent = streams.length ? `${shown.length === streams.length ? streams.length : `${shown.length} of ${streams.length}`} stream${streams.length === 1 ? '' : 's'}` : '';
    for (const name of [...rows.keys()]) if (!streams.some((s) => s.StreamName === name)) rows.delete(name);
    if (!streams.length) {
      replace(body, h('div', { class: 'empty' },
        h('h2', null, 'No streams yet'),
        h('p', null, 'Create a stream, then point a camera, kvssink or ', h('code', null, 'openkvs put'), ' at it.'),
        can('CreateStream') ? h('button', { class: 'btn primary', type: 'button', onclick: () => createStream(refresh) }, icon('plus'), 'Create stream') : null));
      return;
    }
    if (!body.contains(table)) replace(body, table);
    replace(tbody, shown.map((s) => rowFor(s).tr));
    if (!shown.length) tbody.append(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No stream matches the filter.')));
  }

  async function refreshStats() {
    if (!can('ListFragments')) return;
    const visible = streams.filter((s) => rows.get(s.StreamName) && tbody.contains(rows.get(s.StreamName).tr)).slice(0, 100);
    const now = Date.now();
    await pool(visible, 6, async (s) => {
      const r = rows.get(s.StreamName);
      try {
        r.stats = await ingestStats(s.StreamName, now);
        if (r.stats.lastServerMs) lastSeen.set(s.StreamName, r.stats.lastServerMs);
      } catch (e) {
        r.stats = { error: e.message };
      }
      paintStats(r);
    });
  }

  filter.addEventListener('input', render);
  const stop = every(POLL_MS, refresh);
  return stop;
}

// ---------------------------------------------------------------- dialogs
async function analyzerNames() {
  try {
    const r = await call('DescribeWorkers', {});
    return (r.Workers || []).map((w) => w.WorkerName).filter((n) => n !== 'jetstream');
  } catch {
    return ['motion', 'thumbnails'];
  }
}

export async function createStream(onDone) {
  const name = h('input', { type: 'text', name: 'name', required: true, spellcheck: 'false', autocapitalize: 'off', placeholder: 'cam-1', pattern: '[a-zA-Z0-9_.-]{1,256}' });
  const retention = h('input', { type: 'number', name: 'retention', min: 0, max: 87600, step: 1, value: 24 });
  const media = h('input', { type: 'text', name: 'media', value: 'video/h264', spellcheck: 'false' });
  const workers = await analyzerNames();
  const boxes = workers.map((w) => h('input', { type: 'checkbox', name: 'analyzer', value: w, checked: w === 'motion' || w === 'thumbnails' }));
  const created = await dialog({
    title: 'Create stream',
    description: 'Producers send video to a stream with PutMedia; it is kept for the retention period.',
    submitLabel: 'Create stream',
    body: [
      field('Name', name, 'Letters, digits, _ . - (up to 256).'),
      field('Retention (hours)', retention, '0 keeps nothing: live viewing only, no timeline or clips.'),
      field('Media type', media),
      workers.length ? h('div', { class: 'field' }, h('span', null, 'Analyzers'),
        h('div', { class: 'checks' }, boxes.map((b) => h('label', null, b, b.value))),
        h('span', { class: 'hint' }, 'Stored as the openkvs:analyzers tag; motion events and thumbnails appear on the timeline.')) : null,
    ],
    submit: async () => {
      const n = name.value.trim();
      if (!NAME_RE.test(n)) {
        name.setAttribute('aria-invalid', 'true');
        throw new Error('The name must be 1 to 256 letters, digits, underscores, periods or hyphens.');
      }
      const hours = Number(retention.value);
      if (!Number.isInteger(hours) || hours < 0) throw new Error('Retention must be a whole number of hours (0 or more).');
      const body = { StreamName: n, DataRetentionInHours: hours };
      if (media.value.trim()) body.MediaType = media.value.trim();
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (chosen.length) body.Tags = { 'openkvs:analyzers': chosen.join(',') };
      await call('CreateStream', body);
      return n;
    },
  });
  if (created) {
    toast('Stream created', created, 'ok');
    onDone && onDone(created);
  }
}

/**
 * "Add camera": one form creates the stream, a secret holding the camera's RTSP URI (credentials
 * included; Secrets Manager's CreateSecret, or PutSecretValue when the secret exists) and the edge
 * configuration that makes this server's recorder (hub thing `openkvs`) record it.
 */
export async function addCamera(onDone) {
  const name = h('input', { type: 'text', name: 'name', required: true, spellcheck: 'false', autocapitalize: 'off', placeholder: 'front-door', pattern: '[a-zA-Z0-9_.-]{1,256}' });
  const uri = h('input', { type: 'password', name: 'uri', required: true, spellcheck: 'false', autocomplete: 'off', placeholder: 'rtsp://user:password@192.0.2.10:554/stream1' });
  const retention = h('input', { type: 'number', name: 'retention', min: 1, max: 87600, step: 1, value: 24 });
  const hub = h('input', { type: 'text', name: 'hub', value: 'openkvs', spellcheck: 'false', pattern: '[a-zA-Z0-9_.-]+' });
  const created = await dialog({
    title: 'Add camera',
    description: 'Records an RTSP camera (H.264/H.265, AAC) into a new stream. The URI is kept as a secret and never shown again.',
    submitLabel: 'Add camera',
    body: [
      field('Name', name, 'Of the new stream: letters, digits, _ . - (up to 256).'),
      field('RTSP URI', uri, 'rtsp://user:password@host:port/path; add #udp for RTP over UDP.'),
      field('Retention (hours)', retention, 'At least 1: the recorder archives what it records.'),
      field('Hub device', hub, 'Which recorder: "openkvs" is this server; another thing is an `openkvs edge` agent.'),
    ],
    submit: async () => {
      const n = name.value.trim();
      if (!NAME_RE.test(n)) {
        name.setAttribute('aria-invalid', 'true');
        throw new Error('The name must be 1 to 256 letters, digits, underscores, periods or hyphens.');
      }
      const u = uri.value.trim();
      if (!/^rtsp:\/\/[^\s]+$/i.test(u)) {
        uri.setAttribute('aria-invalid', 'true');
        throw new Error('The URI must start with rtsp://.');
      }
      const hours = Number(retention.value);
      if (!Number.isInteger(hours) || hours < 1) throw new Error('Retention must be a whole number of hours, at least 1.');
      const stream = await call('CreateStream', { StreamName: n, DataRetentionInHours: hours });
      // arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/MILLIS
      const [, partition, , region, account] = stream.StreamARN.split(':');
      const secretName = `${n}-camera-uri`;
      let secretArn;
      try {
        secretArn = (await call('CreateSecret', { Name: secretName, SecretString: u, Description: `RTSP URI of camera ${n}` })).ARN;
      } catch (e) {
        if (e.type !== 'ResourceExistsException') throw e;
        secretArn = (await call('PutSecretValue', { SecretId: secretName, SecretString: u })).ARN;
      }
      await call('StartEdgeConfigurationUpdate', {
        StreamName: n,
        EdgeConfig: {
          HubDeviceArn: `arn:${partition}:iot:${region}:${account}:thing/${hub.value.trim() || 'openkvs'}`,
          RecorderConfig: { MediaSourceConfig: { MediaUriSecretArn: secretArn, MediaUriType: 'RTSP_URI' } },
        },
      });
      return n;
    },
  });
  if (created) {
    toast('Camera added', `${created}: the recorder connects within a few seconds.`, 'ok');
    onDone && onDone(created);
  }
}

export async function editRetention(info, onDone) {
  const current = info.DataRetentionInHours || 0;
  const input = h('input', { type: 'number', name: 'hours', min: 0, max: 87600, step: 1, value: current });
  const done = await dialog({
    title: `Retention of ${info.StreamName}`,
    description: `Currently ${fmt.retention(current)}. Lowering it makes older fragments expire.`,
    submitLabel: 'Apply',
    body: field('Retention (hours)', input),
    submit: async () => {
      const target = Number(input.value);
      if (!Number.isInteger(target) || target < 0) throw new Error('Retention must be a whole number of hours (0 or more).');
      if (target === current) return 'unchanged';
      // UpdateDataRetention changes by a delta, guarded by the stream's current version.
      const latest = (await call('DescribeStream', { StreamName: info.StreamName })).StreamInfo;
      await call('UpdateDataRetention', {
        StreamName: info.StreamName,
        CurrentVersion: latest.Version,
        Operation: target > (latest.DataRetentionInHours || 0) ? 'INCREASE_DATA_RETENTION' : 'DECREASE_DATA_RETENTION',
        DataRetentionChangeInHours: Math.abs(target - (latest.DataRetentionInHours || 0)),
      });
      return fmt.retention(target);
    },
  });
  if (done && done !== 'unchanged') {
    toast('Retention updated', `${info.StreamName}: ${done}`, 'ok');
    onDone && onDone();
  }
}

export async function deleteStream(info, onDone) {
  const confirmInput = h('input', { type: 'text', name: 'confirm', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
  const done = await dialog({
    title: `Delete ${info.StreamName}?`,
    description: 'The stream and all of its fragments are deleted. Producers sending to it will get errors. This cannot be undone.',
    submitLabel: 'Delete stream',
    danger: true,
    body: field(h('span', null, 'Type ', h('code', null, info.StreamName), ' to confirm'), confirmInput),
    submit: async () => {
      if (confirmInput.value !== info.StreamName) {
        confirmInput.setAttribute('aria-invalid', 'true');
        throw new Error('The name does not match.');
      }
      await call('DeleteStream', { StreamARN: info.StreamARN });
      return true;
    },
  });
  if (done) {
    toast('Stream deleted', info.StreamName, 'ok');
    onDone && onDone();
  }
}
