// Analysis workers: status, counters, per stream how far each worker is behind ingest, and for the
// thumbnails worker its S3 uploads per bucket (pending, delivered, retried, failed, dropped, last
// error) (/openkvs/describeWorkers, polled every 5 s); pause and resume.

import { call, can } from '../api.js';
import * as fmt from '../format.js';
import { every, h, icon, replace, spinner, toast, toastError } from '../ui.js';

function lagClass(ms) {
  if (ms == null) return '';
  return ms < 10_000 ? 'lag-ok' : ms < 60_000 ? 'lag-warn' : 'lag-bad';
}

export function renderWorkers(main) {
  const list = h('div', { class: 'workers' }, h('div', { class: 'card loading-row' }, spinner(), 'Loading workers…'));
  const updated = h('span', { class: 'sub' });
  replace(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Workers'), updated, h('div', { class: 'spacer' })),
    h('p', { class: 'muted' }, 'Every persisted fragment is offered to the analysis workers that run on its stream. Lag is how far a worker is behind the newest fragment of each stream.'),
    list);

  async function setPaused(worker, pause) {
    try {
      await call(pause ? 'PauseWorker' : 'ResumeWorker', { WorkerName: worker.WorkerName });
      toast(pause ? 'Worker paused' : 'Worker resumed', worker.WorkerName, 'ok');
      await refresh();
    } catch (e) {
      toastError(`The worker could not be ${pause ? 'paused' : 'resumed'}`, e);
    }
  }

  function card(w) {
    const running = w.Status === 'RUNNING';
    const streams = [...(w.Streams || [])].sort((a, b) => (b.MillisBehind || 0) - (a.MillisBehind || 0));
    const maxLag = streams.reduce((m, s) => Math.max(m, s.MillisBehind || 0), 0);
    const canToggle = can(running ? 'PauseWorker' : 'ResumeWorker');
    return h('section', { class: 'card', 'aria-label': `Worker ${w.WorkerName}`, dataset: { worker: w.WorkerName } },
      h('div', { class: 'card-head' },
        h('h2', null, w.WorkerName),
        h('span', { class: ['pill', running ? 'ok' : 'warn'] }, w.Status),
        h('div', { class: 'worker-stats' },
          h('span', null, h('b', null, (w.FragmentsProcessed ?? 0).toLocaleString()), ' processed'),
          h('span', null, h('b', null, (w.FragmentsFailed ?? 0).toLocaleString()), ' failed'),
          h('span', null, h('b', null, (w.EventsRecorded ?? 0).toLocaleString()), ' events'),
          h('span', null, h('b', null, (w.Panics ?? 0).toLocaleString()), ' panics'),
          h('span', null, h('b', null, (w.QueueOverflows ?? 0).toLocaleString()), ' queue overflows'),
          h('span', null, 'max lag ', h('b', { class: lagClass(maxLag) }, streams.length ? fmt.duration(maxLag) : '—'))),
        h('div', { class: 'spacer' }),
        canToggle ? h('button', { class: 'btn small', type: 'button', onclick: () => setPaused(w, running) },
          icon(running ? 'pauseCircle' : 'playCircle'), running ? 'Pause' : 'Resume') : null),
      streams.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Stream'), h('th', { scope: 'col', class: 'r' }, 'Fragments behind'),
            h('th', { scope: 'col', class: 'r' }, 'Lag'), h('th', { scope: 'col' }, 'Last fragment'), h('th', { scope: 'col' }, 'Cursor updated'))),
          h('tbody', null, streams.map((s) => h('tr', null,
            h('td', { class: 'name' }, h('a', { href: `#/streams/${encodeURIComponent(s.StreamName)}` }, s.StreamName)),
            h('td', { class: 'r num' }, (s.FragmentsBehind ?? 0).toLocaleString()),
            h('td', { class: ['r num', lagClass(s.MillisBehind)] }, fmt.duration(s.MillisBehind ?? 0)),
            h('td', { class: 'mono muted' }, s.LastFragmentNumber || '—'),
            h('td', { class: 'muted nowrap' }, s.CursorUpdatedTimestamp ? fmt.ago(Date.now() - fmt.fromWire(s.CursorUpdatedTimestamp)) : '—'))))))
        : h('div', { class: 'card-body muted' }, 'No stream analysed yet.'),
      deliveries(w.Deliveries));
  }

  // Uploads to destinations outside openkvs (S3 buckets of s3:// image destinations), if any.
  function deliveries(list) {
    if (!list || !list.length) return null;
    const n = (v) => (v ?? 0).toLocaleString();
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'aria-label': 'Uploads' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Uploads to'), h('th', { scope: 'col', class: 'r' }, 'Pending'),
        h('th', { scope: 'col', class: 'r' }, 'Delivered'), h('th', { scope: 'col', class: 'r' }, 'Retries'),
        h('th', { scope: 'col', class: 'r' }, 'Failed'), h('th', { scope: 'col', class: 'r' }, 'Dropped'), h('th', { scope: 'col' }, 'Last error'))),
      h('tbody', null, list.map((d) => h('tr', null,
        h('td', { class: 'mono nowrap' }, d.Destination),
        h('td', { class: 'r num' }, n(d.Pending)),
        h('td', { class: 'r num' }, n(d.Delivered)),
        h('td', { class: ['r num', d.Retries ? 'lag-warn' : ''] }, n(d.Retries)),
        h('td', { class: ['r num', d.Failed ? 'lag-bad' : ''] }, n(d.Failed)),
        h('td', { class: ['r num', d.Dropped ? 'lag-bad' : ''] }, n(d.Dropped)),
        h('td', { class: 'muted' }, d.LastError
          ? `${d.LastError}${d.LastErrorTimestamp ? ` (${fmt.ago(Date.now() - fmt.fromWire(d.LastErrorTimestamp))})` : ''}`
          : '—'))))));
  }

  let loaded = false;
  async function refresh() {
    try {
      const r = await call('DescribeWorkers', {});
      const workers = r.Workers || [];
      loaded = true;
      updated.textContent = `${workers.length} worker${workers.length === 1 ? '' : 's'} · updated ${fmt.clock(Date.now())}`;
      replace(list, workers.length ? workers.map(card) : h('div', { class: 'card empty' }, h('h2', null, 'No workers'), h('p', null, 'Analysis workers are disabled in the configuration ([workers] enabled = false).')));
    } catch (e) {
      if (!loaded) replace(list, h('div', { class: 'card empty' }, h('h2', null, 'Workers cannot be shown'), h('p', null, `${e.message} (${e.type})`)));
      else toastError('Refreshing workers failed', e);
    }
  }

  return every(5000, refresh);
}
