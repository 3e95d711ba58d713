#!/usr/bin/env node
// Drives the openkvs web console in headless Debian Chromium (playwright-core), as an operator would.
//
//   node tests/browser/console.mjs --url http://127.0.0.1:4567 --stream NAME --screenshots DIR
//        [--key openkvs] [--secret openkvs-secret] [--color-scheme dark|light] [--seconds 150]
//
// Steps: sign in (a wrong secret first: the error must show), create the stream NAME with the motion
// and thumbnails analyzers, wait for its ingest to show in the stream list (the caller starts
// `openkvs put --realtime` once the stream exists), open it: the live video must play
// (video.currentTime advances), the timeline must show fragments, key-frame thumbnails and a motion
// marker; select a range and download a clip (an MP4); click the timeline to replay; open Workers.
// Along the way: the Media type column shows the ingested codec, the ingest stat cards name their
// window and cut nothing off (live values and the widest formatted ones), and at a 390 px viewport
// no page scrolls sideways.
// Full-page screenshots go to DIR (streams.png, live.png, timeline.png, workers.png, sign-in.png,
// narrow-streams.png, narrow-stream.png, narrow-workers.png).
// No CSP violation, page error or console error may occur.
//
// With --detection-stream NAME --detection-at MS instead of --stream (a stream where a person was
// detected at MS, epoch ms): only sign-in and the detection checks (see `detection` below).
// Screenshot detection.png.
//
// stdout: exactly one JSON line {"ok", "checks": {...}, "failed": "...", "clipBytes", "errors": [...],
// "log": [...], "screenshots": [...]}. Exit 0 ok, 1 not ok, 2 harness error (no browser...).

import fs from 'node:fs';
import path from 'node:path';

const args = { key: 'openkvs', secret: 'openkvs-secret', colorScheme: 'dark', seconds: 190 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--url') args.url = v();
  else if (a === '--stream') args.stream = v();
  else if (a === '--screenshots') args.screenshots = v();
  else if (a === '--key') args.key = v();
  else if (a === '--secret') args.secret = v();
  else if (a === '--color-scheme') args.colorScheme = v();
  else if (a === '--seconds') args.seconds = Number(v());
  else if (a === '--camera-url') args.cameraUrl = v();
  else if (a === '--detection-stream') args.detectionStream = v();
  else if (a === '--detection-at') args.detectionAt = Number(v());
  else {
    console.log(JSON.stringify({ ok: false, failed: `unknown argument ${a}` }));
    process.exit(2);
  }
}
if (!args.url || !(args.stream || args.detectionStream) || !args.screenshots) {
  console.log(JSON.stringify({ ok: false, failed: 'usage: --url URL (--stream NAME | --detection-stream NAME --detection-at MS) --screenshots DIR' }));
  process.exit(2);
}

const T0 = Date.now();
const log = [];
const errors = [];
const checks = {};
const screenshots = [];
const note = (m) => {
  const line = `+${Date.now() - T0}ms ${m}`;
  log.push(line);
  if (process.env.CONSOLE_HARNESS_VERBOSE) process.stderr.write(line + '\n');
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let browser = null;
let result = null;
function finish(ok, failed, extra = {}, code = ok ? 0 : 1) {
  if (result) return;
  result = { ok, failed: failed || null, checks, errors, screenshots, elapsedMs: Date.now() - T0, ...extra, log: log.slice(-60) };
  console.log(JSON.stringify(result));
  const done = browser ? browser.close().catch(() => {}) : Promise.resolve();
  done.finally(() => process.exit(code));
}
setTimeout(() => finish(false, `time limit of ${args.seconds} s`), args.seconds * 1000).unref();

/** Polls `fn` until it returns a truthy value or `ms` pass. */
async function until(what, ms, fn, every = 250) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s (last: ${last && last.message ? last.message : JSON.stringify(last)})`);
    await sleep(every);
  }
}

/** Checks that no stat card value or label is cut off; throws naming the ones that are. */
async function statCardsFit() {
  const cut = await page.evaluate(async () => {
    const { statValue } = await import('/console/ui.js');
    const overflowing = () => [...document.querySelectorAll('.stat, .stat .v, .stat .l')]
      .filter((e) => e.scrollWidth > e.clientWidth + 1)
      .map((e) => `${e.className}: ${e.textContent} (${e.scrollWidth} > ${e.clientWidth})`);
    const out = overflowing();
    const vs = [...document.querySelectorAll('.stat .v')];
    const saved = vs.map((v) => v.title || v.textContent);
    for (const values of [['123 Mbit/s', '23 h 59 min ago', '1000'], ['10.5 Mbit/s', '3 min 05 s ago', '15'], ['1.05 Mbit/s', '454 ms ago', '15']]) {
      values.forEach((t, i) => statValue(vs[i], t));
      out.push(...overflowing());
    }
    vs.forEach((v, i) => statValue(v, saved[i]));
    return out;
  });
  if (cut.length) throw new Error(`stat cards cut off: ${cut.join('; ')}`);
  return true;
}

let page = null;

async function main() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) return finish(false, `no browser at ${executablePath}`, {}, 2);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    return finish(false, 'playwright-core missing (npm ci in tests/browser)', {}, 2);
  }
  fs.mkdirSync(args.screenshots, { recursive: true });
  fs.rmSync(path.join(args.screenshots, 'failure.png'), { force: true });
  const host = new URL(args.url).hostname;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30000,
      args: [
        '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio', '--disable-gpu',
        '--disable-dev-shm-usage', '--no-first-run', '--disable-background-media-suspend',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
        // The WHEP live view: the server (on 127.0.0.1) offers a loopback host candidate.
        '--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection',
        `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE ${host}`,
      ],
    });
  } catch (e) {
    return finish(false, `browser did not start: ${e.message}`, {}, 2);
  }
  note(`browser ${browser.version()}`);
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: args.colorScheme,
    acceptDownloads: true,
  });
  page = await context.newPage();
  page.on('console', (msg) => {
    const t = msg.type();
    if (t === 'error') {
      const text = msg.text();
      // Expected, deliberate failures: the wrong-secret sign-in and LIVE before the first fragment.
      if (/status of (401|404)/.test(text)) return note(`console.error (expected status): ${text.slice(0, 200)}`);
      errors.push(`console.error: ${text.slice(0, 300)}`);
    }
    if (t === 'warning') note(`console.warn: ${msg.text().slice(0, 200)}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${String(e.message || e).slice(0, 300)}`));
  page.on('crash', () => errors.push('page crashed'));
  page.on('requestfailed', (r) => {
    const f = r.failure() && r.failure().errorText;
    if (f === 'net::ERR_ABORTED') return; // hls.js aborts requests when it seeks or stops
    note(`requestfailed ${f} ${r.url().slice(0, 160)}`);
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const shot = async (name) => {
    // Full page from the top (the sticky top bar stays on top), without transient toasts.
    await page.evaluate(() => {
      window.scrollTo(0, 0);
      document.querySelectorAll('.toast').forEach((t) => t.remove());
    });
    const file = path.join(args.screenshots, name);
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
    note(`screenshot ${file}`);
  };

  // ------------------------------------------------------------ sign in
  await page.goto(args.url + '/', { waitUntil: 'load' });
  await page.getByLabel('Access key ID').waitFor({ timeout: 15000 });
  await page.getByLabel('Access key ID').fill(args.key);
  await page.getByLabel('Secret access key').fill('not-the-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor({ timeout: 10000 });
  checks.wrongSecretRefused = true;
  await shot('sign-in.png');
  await page.getByLabel('Secret access key').fill(args.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Streams', level: 1 }).waitFor({ timeout: 15000 });
  const cookies = await context.cookies();
  const c = cookies.find((k) => k.name === 'openkvs_console');
  checks.signedIn = !!c && c.httpOnly && c.sameSite === 'Strict';
  if (!checks.signedIn) throw new Error(`session cookie missing or not HttpOnly/Strict: ${JSON.stringify(c)}`);
  checks.cookieHiddenFromScript = (await page.evaluate(() => document.cookie)).indexOf('openkvs_console') < 0;
  note('signed in');
  if (args.detectionStream) return detection(shot);

  // ------------------------------------------------------------ create the stream
  await page.getByRole('button', { name: 'Create stream' }).first().click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Name').fill(args.stream);
  await dlg.getByLabel('Retention (hours)').fill('24');
  for (const a of ['motion', 'thumbnails']) {
    const box = dlg.getByLabel(a, { exact: true });
    if (!(await box.isChecked())) await box.check();
  }
  await dlg.getByRole('button', { name: 'Create stream' }).click();
  await dlg.waitFor({ state: 'detached', timeout: 10000 });
  const row = page.locator(`tr[data-stream="${args.stream}"]`);
  await row.waitFor({ timeout: 10000 });
  checks.streamCreated = true;
  note('stream created; waiting for ingest');

  // ------------------------------------------------------------ stream list with ingest figures
  await until('ingest bitrate in the stream list', 45000, async () => /bit\/s/.test(await row.locator('td').nth(4).innerText()), 500);
  await until('last-fragment age', 15000, async () => /ago/.test(await row.locator('td').nth(5).innerText()), 500);
  checks.streamListShowsIngest = true;
  // Created without a MediaType: the server fills it from the tracks the producer sends (H.264).
  await until('media type from the ingested tracks', 30000, async () => /video\/h264/.test(await row.locator('td').nth(2).innerText()), 500);
  checks.mediaTypeFromTracks = true;
  await shot('streams.png');

  // ------------------------------------------------------------ live view
  await row.getByRole('link', { name: args.stream }).click();
  await page.getByRole('heading', { name: args.stream, level: 1 }).waitFor({ timeout: 10000 });
  const video = page.locator('video');
  await video.waitFor({ timeout: 10000 });
  const liveOpened = Date.now();
  const t1 = await until('live video playing', 45000, async () => {
    const st = await video.evaluate((v) => ({ t: v.currentTime, paused: v.paused, rs: v.readyState, mode: v.closest('.player').dataset.mode }));
    return st.t > 0.5 && !st.paused && st.rs >= 2 && st.mode === 'live' ? st.t : null;
  });
  await until('live video advancing 2 s', 20000, async () => (await video.evaluate((v) => v.currentTime)) >= t1 + 2);
  checks.liveVideoPlays = true;
  // The live view plays over WebRTC (WHEP), not HLS.
  checks.liveTransport = await video.evaluate((v) => v.closest('.player').dataset.transport);
  checks.liveOverWebRtc = checks.liveTransport === 'webrtc' && (await video.evaluate((v) => v.srcObject instanceof MediaStream));
  if (!checks.liveOverWebRtc) throw new Error(`the live view plays over ${checks.liveTransport}, not WebRTC`);
  note(`live over WebRTC, playing ${Date.now() - liveOpened} ms after opening the stream`);
  const size = await video.evaluate((v) => `${v.videoWidth}x${v.videoHeight}`);
  note(`live playing ${size}`);

  // ------------------------------------------------------------ timeline: fragments, thumbnails, motion
  const oneMin = page.locator('button[data-window="1 min"]');
  await oneMin.click();
  await until('fragments on the timeline', 20000, async () => (await page.locator('.tl-track rect.frag').count()) > 0);
  checks.timelineFragments = true;
  // Let the recording fill most of the one-minute window, so the timeline is worth a screenshot.
  await until('the recording filling the timeline', 75000, async () => {
    const [bar, track] = await Promise.all([
      page.evaluate(() => [...document.querySelectorAll('.tl-track rect.frag')].reduce((w, r) => w + r.getBoundingClientRect().width, 0)),
      page.locator('.tl-track').boundingBox(),
    ]);
    if (bar >= track.width * 0.6) return true;
    await oneMin.click();
    return false;
  }, 3000);
  const thumbs = await until('key-frame thumbnails on the timeline', 60000, async () => {
    const n = await page.locator('.tl-thumb img').count();
    if (n >= 4) return n;
    await oneMin.click();
    return null;
  }, 3000);
  checks.thumbnails = thumbs;
  const markers = await until('a motion marker on the timeline', 60000, async () => {
    const n = await page.locator('.tl-marker[data-kind="motion"]').count();
    if (n >= 1) return n;
    await oneMin.click();
    return null;
  }, 3000);
  checks.motionMarkers = markers;
  // Wait until every thumbnail finished loading (no shimmer), for the screenshot.
  await until('thumbnails settled', 20000, async () => (await page.locator('.tl-thumb.loading').count()) === 0).catch(() => {});
  await shot('live.png');

  // Ingest stat cards: labelled windows, and no value or label cut off, with the live values and
  // with the widest ones the formatters produce (painted by the console's own statValue).
  const labels = await page.locator('.stat .l').allInnerTexts();
  if (!labels.some((l) => /^FRAGMENTS\s+last 30 s$/i.test(l)) || !labels.some((l) => /^BITRATE\s+last 30 s$/i.test(l))) {
    throw new Error(`stat labels do not name their window: ${JSON.stringify(labels)}`);
  }
  checks.statCardsFit = await statCardsFit();
  checks.statLabels = labels;

  // Select a range over the recorded part and download it as a clip.
  await page.locator('.timeline-card').scrollIntoViewIfNeeded();
  const frag = await page.locator('.tl-track rect.frag').first().boundingBox();
  const track = await page.locator('.tl-track').boundingBox();
  const x0 = Math.max(frag.x + Math.min(40, frag.width * 0.1), track.x + 4);
  const x1 = Math.min(frag.x + frag.width - 4, x0 + Math.max(40, track.width * 0.2));
  const y = track.y + track.height / 2;
  await page.mouse.move(x0, y);
  await page.mouse.down();
  await page.mouse.move((x0 + x1) / 2, y, { steps: 4 });
  await page.mouse.move(x1, y, { steps: 4 });
  await page.mouse.up();
  const clipButton = page.getByRole('button', { name: 'Download clip' });
  await clipButton.waitFor({ timeout: 5000 });
  const selText = await page.locator('.sel-info').innerText();
  note(`selection ${selText.replace(/\s+/g, ' ')}`);
  await page.mouse.move(x1, y - 300);
  await shot('timeline.png');
  await page.locator('.timeline-card').scrollIntoViewIfNeeded();
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), clipButton.click()]);
  const clipPath = path.join(args.screenshots, 'clip.mp4');
  await download.saveAs(clipPath);
  const clip = fs.readFileSync(clipPath);
  const brand = clip.subarray(4, 8).toString('latin1');
  checks.clip = { bytes: clip.length, box: brand, name: download.suggestedFilename() };
  if (brand !== 'ftyp' || clip.length < 20_000) throw new Error(`the clip is not an MP4 of some size: ${JSON.stringify(checks.clip)}`);
  await page.locator('.toast.ok').filter({ hasText: 'Clip downloaded' }).waitFor({ timeout: 5000 });

  // Click the timeline (inside the recording) to replay from there.
  await page.locator('.timeline-card').scrollIntoViewIfNeeded();
  // The timeline keeps redrawing as fragments arrive and its window slides: take the first
  // fragment that is on screen now (under load the oldest may have slid out of view).
  const again = await until('a fragment on the timeline', 15000, async () => {
    for (const rect of await page.locator('.tl-track rect.frag').all()) {
      const box = await rect.boundingBox();
      if (box && box.width > 2) return box;
    }
    return null;
  });
  await page.mouse.click(again.x + Math.min(20, again.width / 2), again.y + again.height / 2);
  await until('replay playing', 30000, async () => {
    const st = await video.evaluate((v) => ({ t: v.currentTime, paused: v.paused, mode: v.closest('.player').dataset.mode, phase: v.closest('.player').dataset.phase }));
    return st.mode === 'replay' && st.phase === 'playing' && st.t > 0 ? st : null;
  });
  const r1 = await video.evaluate((v) => v.currentTime);
  await until('replay advancing', 15000, async () => (await video.evaluate((v) => v.currentTime)) > r1 + 1);
  checks.replayFromTimeline = true;

  // WebRTC made impossible (every peer connection relay-only with no TURN server: no candidate,
  // ICE never connects, as with UDP blocked): going live must fall back to HLS.
  await page.evaluate(() => {
    const Real = window.RTCPeerConnection;
    window.__RealRTCPeerConnection = Real;
    window.RTCPeerConnection = class extends Real {
      constructor(config) {
        super({ ...(config || {}), iceServers: [], iceTransportPolicy: 'relay' });
      }
    };
  });
  const fallbackStarted = Date.now();
  await page.locator('button[title^="Go to the live edge"]').click();
  const f1 = await until('live over HLS after WebRTC failed', 45000, async () => {
    const st = await video.evaluate((v) => ({ t: v.currentTime, paused: v.paused, ...v.closest('.player').dataset }));
    return st.mode === 'live' && st.transport === 'hls' && st.phase === 'playing' && st.t > 0 ? st.t : null;
  });
  await until('HLS live advancing', 20000, async () => (await video.evaluate((v) => v.currentTime)) > f1 + 1);
  checks.liveFallsBackToHls = { playingAfterMs: Date.now() - fallbackStarted };
  note(`WebRTC impossible: live over HLS after ${checks.liveFallsBackToHls.playingAfterMs} ms`);
  await page.evaluate(() => { window.RTCPeerConnection = window.__RealRTCPeerConnection; });

  // ------------------------------------------------------------ workers
  await page.getByRole('link', { name: 'Workers' }).click();
  await page.locator('[data-worker="motion"]').waitFor({ timeout: 15000 });
  await until('the stream under the motion worker', 15000, async () => (await page.locator('[data-worker="motion"] td.name').allInnerTexts()).includes(args.stream));
  checks.workers = await page.locator('[data-worker]').count();
  // The stream's images go to an S3 server that is down: the thumbnails worker lists its uploads
  // to that bucket with their retries and last error.
  const uploads = page.locator('[data-worker="thumbnails"] table[aria-label="Uploads"] tbody tr');
  checks.uploads = await until('the thumbnails worker\'s uploads', 20000, async () =>
    (await uploads.count()) > 0 && (await uploads.first().innerText()).includes('error') ? uploads.first().innerText() : null);
  await shot('workers.png');

  // A phone: at 390 px no page may scroll sideways (the header included), and the stat cards fit.
  await page.setViewportSize({ width: 390, height: 844 });
  const narrow = {};
  for (const [route, heading, file] of [
    ['#/streams', 'Streams', 'narrow-streams.png'],
    [`#/streams/${encodeURIComponent(args.stream)}`, args.stream, 'narrow-stream.png'],
    ['#/workers', 'Workers', 'narrow-workers.png'],
  ]) {
    await page.evaluate((r) => { location.hash = r; }, route);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor({ timeout: 10000 });
    await sleep(300);
    const m = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      outside: [...document.querySelectorAll('.topbar *, main *')]
        .filter((e) => e.getClientRects().length && !e.closest('.table-wrap'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`),
    }));
    narrow[route] = m;
    if (m.scrollWidth > m.innerWidth || m.outside.length) {
      await shot(file);
      throw new Error(`${route} overflows a ${m.innerWidth} px viewport: ${JSON.stringify(m)}`);
    }
    if (route.startsWith('#/streams/')) {
      await until('stat values at 390 px', 15000, async () => (await page.locator('.stat .v').first().innerText()) !== '—');
      checks.statCardsFitNarrow = await statCardsFit();
    }
    await shot(file);
  }
  checks.noHorizontalOverflowAt390 = narrow;
  await page.setViewportSize({ width: 1440, height: 900 });

  // ------------------------------------------------------------ add an RTSP camera (edge recorder)
  if (args.cameraUrl) {
    const camStream = `${args.stream}-rtsp`;
    await page.evaluate(() => { location.hash = '#/streams'; });
    await page.getByRole('heading', { name: 'Streams', level: 1 }).waitFor({ timeout: 10000 });
    await page.getByRole('button', { name: 'Add camera' }).first().click();
    const camDlg = page.getByRole('dialog');
    await camDlg.getByLabel('Name').fill(camStream);
    await camDlg.getByLabel('RTSP URI').fill(args.cameraUrl);
    await camDlg.getByRole('button', { name: 'Add camera' }).click();
    await camDlg.waitFor({ state: 'detached', timeout: 10000 });
    await page.locator(`tr[data-stream="${camStream}"]`).getByRole('link', { name: camStream }).click();
    await page.getByRole('heading', { name: camStream, level: 1 }).waitFor({ timeout: 10000 });
    const card = page.locator('section[aria-label="Camera"]');
    await until('camera IN_SYNC and recording', 40000, async () =>
      (await card.getAttribute('data-sync')) === 'IN_SYNC' && /SUCCESS/.test(await card.locator('[data-job="RecorderStatus"]').innerText()), 500);
    const cardText = await card.innerText();
    if (cardText.includes(new URL(args.cameraUrl).password || '\u0000')) throw new Error('the camera card shows the password');
    checks.cameraAdded = true;
    note('camera added and recording');
    await shot('camera.png');
  }

  const csp = await page.evaluate(() => window.__cspViolations);
  if (csp.length) errors.push(...csp.map((v) => `CSP violation: ${v}`));
  if (errors.length) return finish(false, `page errors: ${errors[0]}`);
  finish(true, null, { videoSize: size, clipBytes: clip.length });
}

/**
 * Detection events of a stream that already holds them (the caller ingested a clip with a person
 * and a face in it; `--detection-at` is the person's object_start time, epoch ms): a label marker
 * on the timeline, the event's image with its box drawn in the events list, and the range dialog
 * ("every person between … and …") keeping only that label in that range, and nothing in a range
 * an hour earlier. Screenshot: detection.png (filtered to the person).
 */
async function detection(shot) {
  const name = args.detectionStream;
  await page.evaluate((r) => { location.hash = r; }, `#/streams/${encodeURIComponent(name)}`);
  await page.getByRole('heading', { name, level: 1 }).waitFor({ timeout: 10000 });
  const markerNames = async () => (await page.locator('.tl-marker[data-kind="label"]').evaluateAll((ms) => ms.map((m) => m.title.split(' (')[0]))).sort();
  // A marker per label that appeared, in the default window (the last 15 min).
  const before = await until('label markers on the timeline', 20000, async () => {
    const n = await markerNames();
    return n.includes('person') ? n : null;
  });
  checks.labelMarkers = before;
  // The person's appearance in the events list, with the recorded frame and its box (drawn by the
  // worker in the person's colour, 255,64,64) as a loaded image.
  const img = page.locator('img.event-thumb[alt="person with its box"]').first();
  await img.waitFor({ timeout: 10000 });
  checks.eventImage = await until('the event image decoded', 10000, async () => img.evaluate((el) => {
    if (!el.complete || !el.naturalWidth) return null;
    const c = document.createElement('canvas');
    c.width = el.naturalWidth;
    c.height = el.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(el, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let box = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 110 && d[i + 2] < 110) box++;
    return { width: el.naturalWidth, height: el.naturalHeight, boxPixels: box, src: el.src.slice(0, 5) };
  }));
  if (checks.eventImage.boxPixels < 100) throw new Error(`no box drawn over the event image: ${JSON.stringify(checks.eventImage)}`);

  // The filter: a range around the person, only "person".
  const setRange = async (from, to, label) => {
    await page.getByRole('button', { name: 'Range…' }).click();
    const dlg = page.getByRole('dialog', { name: 'Show a time range' });
    const local = (ms) => page.evaluate((t) => new Date(t - new Date(t).getTimezoneOffset() * 60000).toISOString().slice(0, 19), ms);
    await dlg.locator('input[name="from"]').fill(await local(from));
    await dlg.locator('input[name="to"]').fill(await local(to));
    await dlg.locator('select[name="label"]').selectOption(label);
    await dlg.getByRole('button', { name: 'Show' }).click();
    await dlg.waitFor({ state: 'detached', timeout: 5000 });
  };
  const listed = () => page.locator('ul.events li .what').evaluateAll((ls) => ls.map((l) => l.firstChild.textContent));
  const at = args.detectionAt;
  await setRange(at - 60_000, at + 60_000, 'person');
  const filtered = await until('only the person in the range', 15000, async () => {
    const [m, l, range] = [await markerNames(), await listed(), await page.locator('.timeline-card .card-head .num').innerText()];
    return m.length && m.every((x) => x === 'person') && l.length && l.every((x) => x.startsWith('person ')) ? { markers: m, listed: l, range } : null;
  });
  checks.filterPersonInRange = filtered;
  await page.locator('img.event-thumb').first().waitFor({ timeout: 10000 });
  await shot('detection.png');
  // The same label an hour earlier: nothing.
  await setRange(at - 3_660_000, at - 3_600_000, 'person');
  checks.filterRangeExcludes = await until('nothing an hour earlier', 15000, async () =>
    (await markerNames()).length === 0 && (await page.locator('ul.events li.empty').count()) === 1);
  const csp = await page.evaluate(() => window.__cspViolations);
  if (csp.length) errors.push(...csp.map((v) => `CSP violation: ${v}`));
  if (errors.length) return finish(false, `page errors: ${errors[0]}`);
  finish(true, null);
}

main().catch(async (e) => {
  note(`failed: ${e.message}`);
  try {
    const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
    if (pages[0]) {
      const file = path.join(args.screenshots, 'failure.png');
      await pages[0].screenshot({ path: file, fullPage: true });
      screenshots.push(file);
    }
  } catch {
    /* best effort */
  }
  finish(false, String(e.message || e).split('\n')[0]);
});
