#!/usr/bin/env node
// Headless-Chromium KVS WebRTC check for openkvs (browser harness).
//
//   node tests/browser/webrtc.mjs --endpoint https://127.0.0.1:PORT --channel NAME
//        [--viewers N] [--seconds S] [--create] [--region R]
//        [--access-key K] [--secret-key S] [--stun] [--no-turn] [--no-audio]
//        [--storage [--storage-viewer]] [--relay] [--screenshot PREFIX]
//   node tests/browser/webrtc.mjs --dry-run      (no openkvs needed)
//
// Opens webrtc/master.html (fake camera, KVS WebRTC SDK + AWS SDK v3 pointed at
// --endpoint), waits until its signaling client is open, opens N viewer pages and
// waits until every viewer's <video> renders frames and its currentTime advances.
// --storage: the master calls JoinStorageSession (openkvs records it) and keeps going until
// --seconds; --storage-viewer: viewers call JoinStorageSessionAsViewer and play what openkvs
// offers them (the recorded stream, live) instead of connecting to the master. --relay: every
// page uses iceTransportPolicy 'relay' (TURN relay candidates only); the report's
// viewerCandidatePairs gives each viewer's selected candidate pair types.
// Prints exactly one JSON line on stdout; diagnostics go to stderr.
// Exit codes: 0 every viewer got video within --seconds, 1 not, 2 usage / harness
// error (no browser, no node_modules, bundle missing: run "npm run build:webrtc").
// See README.md next to this file.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PAGES = path.join(HERE, 'webrtc');
const BUNDLE = path.join(PAGES, 'dist', 'bundle.js');
const LOG_KEEP = 40;
const ADVANCE_S = 0.5; // currentTime must move this far past the first frame

// ---------------------------------------------------------------- arguments
const USAGE =
  'usage: node webrtc.mjs --endpoint https://HOST:PORT --channel NAME [--viewers N] [--seconds S] ' +
  '[--create] [--region R] [--access-key K] [--secret-key S] [--stun] [--no-turn] [--no-audio] ' +
  '[--storage [--storage-viewer]] [--relay] ' +
  '[--screenshot PREFIX] | --dry-run';

function parseArgs(argv) {
  const o = {
    endpoint: null,
    channel: null,
    viewers: 1,
    seconds: 30,
    create: false,
    dryRun: false,
    region: 'us-east-1',
    accessKey: 'openkvs',
    secretKey: 'openkvs-secret',
    stun: false,
    turn: true,
    audio: true,
    screenshot: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--endpoint') o.endpoint = val();
    else if (a === '--channel') o.channel = val();
    else if (a === '--viewers') o.viewers = Number(val());
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--create') o.create = true;
    else if (a === '--dry-run') o.dryRun = true;
    else if (a === '--region') o.region = val();
    else if (a === '--access-key') o.accessKey = val();
    else if (a === '--secret-key') o.secretKey = val();
    else if (a === '--stun') o.stun = true;
    else if (a === '--no-turn') o.turn = false;
    else if (a === '--no-audio') o.audio = false;
    else if (a === '--storage') o.storage = true;
    else if (a === '--storage-viewer') o.storageViewer = true;
    else if (a === '--relay') o.relay = true;
    else if (a === '--screenshot') o.screenshot = val();
    else if (a === '--help' || a === '-h') return { usageError: USAGE };
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.dryRun) {
    if (!o.endpoint || !/^https?:\/\/[^/]+\/?$/.test(o.endpoint)) return { usageError: `--endpoint must be like https://127.0.0.1:PORT; ${USAGE}` };
    if (!o.channel) return { usageError: `--channel is required; ${USAGE}` };
    o.endpoint = o.endpoint.replace(/\/$/, '');
  }
  if (!(Number.isInteger(o.viewers) && o.viewers >= 1 && o.viewers <= 50)) return { usageError: `--viewers must be 1..50; ${USAGE}` };
  if (!(o.seconds > 0)) return { usageError: `--seconds must be > 0; ${USAGE}` };
  return o;
}

// ---------------------------------------------------------------- page server
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

function startServer() {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const rel = path.normalize(decodeURIComponent(u.pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = path.join(PAGES, rel);
    const type = TYPES[path.extname(file)];
    if (!file.startsWith(PAGES + path.sep) || !type || file.includes(`${path.sep}npm-stub${path.sep}`) || !fs.existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
};

// ---------------------------------------------------------------- main
async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    opts = { usageError: `${e.message}; ${USAGE}` };
  }
  const base = {
    ok: false,
    viewers: opts.viewers ?? 0,
    connected: 0,
    timeToFirstFrameMs: { p50: null, max: null, each: [] },
    errors: [],
    log: [],
  };
  const emit = (obj, code) => {
    process.stdout.write(JSON.stringify(obj) + '\n');
    process.exitCode = code;
  };
  const harnessFail = (msg) => {
    process.stderr.write(`webrtc.mjs: ${msg}\n`);
    emit({ ...base, errors: [`harness: ${msg}`], harnessError: msg }, 2);
  };
  if (opts.usageError) return harnessFail(opts.usageError);
  if (!fs.existsSync(path.join(HERE, 'node_modules', 'playwright-core'))) {
    return harnessFail(`missing ${path.join(HERE, 'node_modules')}: run "npm ci" in ${HERE}`);
  }
  if (!fs.existsSync(BUNDLE)) {
    return harnessFail(`missing ${BUNDLE}: run "npm run build:webrtc" in ${HERE}`);
  }
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    return harnessFail(`no browser at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }

  const t0 = Date.now();
  const nodeLog = [];
  const nlog = (m) => {
    nodeLog.push({ t: Date.now(), m });
    if (process.env.WEBRTC_HARNESS_VERBOSE) process.stderr.write(`+${Date.now() - t0}ms ${m}\n`);
  };
  const errors = [];
  let server = null;
  let browser = null;
  let finished = false;
  let harnessError = null;
  const pages = []; // { name, page, kind, openedAt, state }
  const runTag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

  const snapshot = async (p) => {
    try {
      p.state = await p.page.evaluate(() => {
        const k = window.__kvs;
        if (!k) return null;
        const { log, ...rest } = k;
        return { ...rest, log: log.slice(-60) };
      });
    } catch (e) {
      if (!p.evalFailed) nlog(`${p.name}: evaluate failed: ${String(e.message || e).split('\n')[0]}`);
      p.evalFailed = true;
    }
    return p.state;
  };

  // --relay plays a little longer: enough media to tell relayed video from ICE/DTLS traffic.
  const advance = opts.relay ? 2 : ADVANCE_S;
  const viewerDone = (s) =>
    s && s.firstFrameMs != null && s.videoWidth > 0 && s.currentTime >= (s.firstFrameCurrentTime || 0) + advance;

  const buildResult = () => {
    const viewers = pages.filter((p) => p.kind === 'viewer');
    const each = opts.dryRun
      ? []
      : Array.from({ length: opts.viewers }, (_, i) => (viewerDone(viewers[i]?.state) ? Math.round(viewers[i].state.firstFrameMs) : null));
    const got = each.filter((x) => x !== null).sort((a, b) => a - b);
    const allErrors = [...errors];
    for (const p of pages) for (const e of p.state?.errors || []) allErrors.push(`${p.name}: ${e.replace(/^\[(MASTER|VIEWER|\?)\] (ERROR )?/, '')}`);
    if (harnessError) allErrors.push(`harness: ${harnessError}`);
    const log = [];
    for (const p of pages) for (const e of p.state?.log || []) log.push({ t: e.t, m: `${p.name} ${e.m.replace(/^\[(MASTER|VIEWER|\?)\] /, '')}` });
    log.push(...nodeLog);
    const master = pages.find((p) => p.kind === 'master');
    let ok;
    if (opts.dryRun) {
      ok = pages.length === 2 && pages.every((p) => p.state?.phase === 'dryrun-done') && allErrors.length === 0 && !harnessError;
    } else {
      ok = viewers.length === opts.viewers && got.length === opts.viewers && !harnessError;
    }
    const out = {
      ok,
      viewers: opts.viewers,
      connected: got.length,
      timeToFirstFrameMs: {
        p50: percentile(got, 50),
        max: got.length ? got[got.length - 1] : null,
        each,
      },
      errors: allErrors.slice(0, 50),
      log: log
        .sort((a, b) => a.t - b.t)
        .slice(-LOG_KEEP)
        .map((e) => `+${e.t - t0}ms ${e.m}`.slice(0, 400)),
      channel: opts.channel,
      channelARN: master?.state?.channelARN ?? null,
      endpoints: master?.state?.endpoints ?? null,
      masterPhase: master?.state?.phase ?? null,
      storageJoined: master?.state?.storageJoined ?? null,
      storageJoinCalledAt: master?.state?.storageJoinCalledAt ?? null,
      storagePeerState: master?.state?.storagePeerState ?? null,
      viewerPhases: viewers.map((p) => p.state?.phase ?? null),
      viewerCandidatePairs: viewers.map((p) => p.state?.selectedPair ?? null),
      viewersSendingAudio: viewers.filter((p) => p.state?.sendingAudio).length,
      elapsedMs: Date.now() - t0,
    };
    if (opts.dryRun) {
      out.viewers = 0;
      out.dryRun = {
        sdkVersion: master?.state?.dryRun?.sdkVersion ?? null,
        missingGlobals: [...new Set(pages.flatMap((p) => p.state?.dryRun?.missing || []))],
        localTracks: master?.state?.localTracks ?? null,
        localVideoSize: master?.state?.localVideoSize ?? null,
        signedUrlParams: (master?.state?.dryRun?.signedUrl || '').split('?')[1]?.split('&').map((kv) => kv.split('=')[0]) ?? null,
      };
    }
    if (harnessError) out.harnessError = harnessError;
    return out;
  };

  const cleanup = async () => {
    for (const p of pages) await p.page.evaluate(() => window.__stop && window.__stop()).catch(() => {});
    const b = browser;
    browser = null;
    if (b) await Promise.race([b.close().catch(() => {}), sleep(5000)]);
    if (server) {
      server.closeAllConnections?.();
      server.close();
      server = null;
    }
  };

  const onSignal = (sig) => {
    if (finished) return;
    finished = true;
    errors.push(`harness interrupted by ${sig}`);
    cleanup().finally(() => {
      emit({ ...buildResult(), ok: false }, 1);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  let launched = false;
  try {
    const { chromium } = await import('playwright-core');
    server = await startServer();
    const pageBase = `http://127.0.0.1:${server.address().port}`;
    // The browser reaches no host but 127.0.0.1, localhost and the endpoint's
    // (--host-resolver-rules applies to IP literals too); --stun's amazonaws.com
    // name fails fast.
    const excl = ['localhost', '127.0.0.1'];
    if (opts.endpoint && !excl.includes(new URL(opts.endpoint).hostname)) excl.push(new URL(opts.endpoint).hostname);
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--ignore-certificate-errors',
        '--no-sandbox',
        '--autoplay-policy=no-user-gesture-required',
        '--mute-audio',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--disable-background-media-suspend',
        '--disable-background-timer-throttling',
        '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        // Plain host ICE candidates (no mDNS .local names to resolve).
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        // Also gather 127.0.0.1 candidates: a machine or namespace with only lo still connects.
        '--allow-loopback-in-peer-connection',
        `--host-resolver-rules=MAP * ~NOTFOUND, ${excl.map((h) => `EXCLUDE ${h}`).join(', ')}`,
      ],
    });
    launched = true;
    nlog(`browser ${browser.version()} pages ${pageBase}/`);
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 700, height: 700 } });
    await context.grantPermissions(['camera', 'microphone'], { origin: pageBase }).catch(() => {});
    const deadline = Date.now() + opts.seconds * 1000;

    const q = (extra) => {
      const u = new URLSearchParams({
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.channel ? { channel: opts.channel } : {}),
        region: opts.region,
        accessKeyId: opts.accessKey,
        secretAccessKey: opts.secretKey,
        ...(opts.stun ? { stun: '1' } : {}),
        ...(opts.turn ? {} : { turn: '0' }),
        ...(opts.audio ? {} : { audio: '0' }),
        ...(opts.dryRun ? { dryrun: '1' } : {}),
        ...(opts.relay ? { relay: '1' } : {}),
        ...extra,
      });
      return u.toString();
    };
    const openPage = async (name, kind, file, extra) => {
      const page = await context.newPage();
      const entry = { name, page, kind, openedAt: Date.now(), state: null };
      pages.push(entry);
      page.on('console', (msg) => {
        if (msg.type() === 'error') nlog(`${name} console.error: ${msg.text().slice(0, 300)}`);
      });
      page.on('pageerror', (e) => errors.push(`${name}: pageerror: ${String(e.message || e).slice(0, 300)}`));
      page.on('crash', () => errors.push(`${name}: page crashed`));
      page.on('requestfailed', (r) => nlog(`${name} requestfailed ${r.failure()?.errorText} ${r.method()} ${r.url().slice(0, 160)}`));
      page.on('response', (r) => {
        if (r.status() >= 400) nlog(`${name} HTTP ${r.status()} ${r.request().method()} ${r.url().slice(0, 160)}`);
      });
      await page.goto(`${pageBase}/${file}?${q(extra)}`, { waitUntil: 'load', timeout: 30000 });
      nlog(`${name} page loaded`);
      return entry;
    };

    // Master first; viewers only once it is connected to signaling.
    const master = await openPage('master', 'master', 'master.html', {
      ...(opts.create ? { create: '1' } : {}),
      ...(opts.storage ? { storage: '1' } : {}),
    });
    const masterReady = (s) => (opts.dryRun ? s?.phase === 'dryrun-done' : s?.signalingOpen === true);
    for (;;) {
      const s = await snapshot(master);
      if (masterReady(s)) break;
      if (s?.phase === 'failed' || s?.phase === 'signaling-closed' || errors.length) {
        nlog(`master did not connect (phase ${s?.phase})`);
        break;
      }
      if (Date.now() > deadline) {
        nlog(`time limit: master still in phase ${s?.phase} after ${opts.seconds}s`);
        break;
      }
      await sleep(100);
    }

    if (masterReady(master.state)) {
      nlog(opts.dryRun ? 'master dry run done' : `master signaling open (${master.state.channelARN})`);
      const nViewers = opts.dryRun ? 1 : opts.viewers;
      await Promise.all(
        Array.from({ length: nViewers }, (_, i) =>
          openPage(`viewer${i + 1}`, 'viewer', 'viewer.html', {
            clientId: `viewer-${i + 1}-${runTag}`,
            ...(opts.storageViewer ? { storageViewer: '1' } : {}),
          }),
        ),
      );
      const viewers = pages.filter((p) => p.kind === 'viewer');
      for (;;) {
        await Promise.all([...viewers, master].map(snapshot));
        if (opts.dryRun) {
          if (viewers.every((v) => ['dryrun-done', 'failed'].includes(v.state?.phase))) break;
        } else {
          const done = viewers.filter((v) => viewerDone(v.state));
          for (const v of done) {
            if (!v.reported) {
              v.reported = true;
              nlog(`${v.name} got video ${v.state.videoWidth}x${v.state.videoHeight}, first frame +${Math.round(v.state.firstFrameMs)}ms`);
            }
          }
          // With --storage the master keeps recording until --seconds.
          if (done.length === viewers.length && !opts.storage) break;
          if (master.state?.phase === 'signaling-closed' || master.state?.phase === 'failed') {
            nlog(`master left: phase ${master.state.phase}`);
            break;
          }
          if (!opts.storage && viewers.every((v) => v.state?.phase === 'failed' || viewerDone(v.state))) break;
        }
        if (Date.now() > deadline) {
          nlog(`time limit ${opts.seconds}s reached: ${viewers.map((v) => `${v.name}=${v.state?.phase}`).join(' ')}`);
          break;
        }
        await sleep(200);
      }
    }
    await Promise.all(pages.map(snapshot));
    if (opts.screenshot) {
      for (const p of pages) {
        const file = `${opts.screenshot}${p.name}.png`;
        await p.page.screenshot({ path: file }).then(() => nlog(`screenshot ${file}`), () => {});
      }
    }
  } catch (e) {
    // eslint-disable-next-line no-control-regex
    harnessError = String((e && e.message) || e).replace(/\u001b\[[0-9;]*m/g, '').split('\n').slice(0, 3).join(' | ');
    nlog(`harness error: ${harnessError}`);
  } finally {
    if (!finished) await cleanup();
  }
  if (finished) return;
  finished = true;
  const out = buildResult();
  emit(out, out.ok ? 0 : harnessError && !launched ? 2 : 1);
}

// Hard watchdog: never hang, whatever happens.
{
  const a = process.argv;
  const i = a.indexOf('--seconds');
  const secs = i >= 0 ? Number(a[i + 1]) || 30 : 30;
  const wd = setTimeout(() => {
    process.stderr.write('webrtc.mjs: watchdog fired, exiting\n');
    process.stdout.write(JSON.stringify({ ok: false, viewers: null, connected: 0, timeToFirstFrameMs: null, errors: ['harness watchdog timeout'], log: [] }) + '\n');
    process.exit(1); // playwright kills the browser it launched on process exit
  }, (secs + 90) * 1000);
  wd.unref();
}

main().then(
  () => process.exit(process.exitCode ?? 1),
  (e) => {
    process.stderr.write(`webrtc.mjs: ${(e && e.stack) || e}\n`);
    process.stdout.write(JSON.stringify({ ok: false, viewers: null, connected: 0, timeToFirstFrameMs: null, errors: [`harness crash: ${e && e.message}`], log: [] }) + '\n');
    process.exit(2);
  },
);
