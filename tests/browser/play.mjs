#!/usr/bin/env node
// Headless-Chromium playback check for HLS / DASH URLs (openkvs browser harness).
//
//   node tests/browser/play.mjs --kind hls|dash --url URL --mode ondemand|live
//        [--seconds N] [--expect-end]
//
// Prints exactly one JSON line on stdout and exits 0 iff playback was ok.
// Exit codes: 0 ok, 1 playback not ok, 2 usage / harness error (browser
// missing, node_modules missing, ...). Diagnostics go to stderr.
// See README.md next to this file.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MIN_ADVANCE_S = 2;
const STARTUP_LIMIT_S = 60; // ondemand, before the duration is known
const LOG_KEEP = 30;

// ---------------------------------------------------------------- arguments
function usage(msg) {
  const text =
    'usage: node play.mjs --kind hls|dash --url URL --mode ondemand|live ' +
    '[--seconds N] [--expect-end]';
  return { usageError: msg ? `${msg}; ${text}` : text };
}

function parseArgs(argv) {
  const o = { kind: null, url: null, mode: null, seconds: null, expectEnd: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--kind') o.kind = val();
    else if (a === '--url') o.url = val();
    else if (a === '--mode') o.mode = val();
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--expect-end') o.expectEnd = true;
    else if (a === '--help' || a === '-h') return usage();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!['hls', 'dash'].includes(o.kind)) return usage('--kind must be hls or dash');
  if (!['ondemand', 'live'].includes(o.mode)) return usage('--mode must be ondemand or live');
  if (!o.url || !/^https?:\/\//.test(o.url)) return usage('--url must be an http(s) URL');
  if (o.seconds !== null && !(o.seconds > 0)) return usage('--seconds must be > 0');
  if (o.mode === 'live' && o.seconds === null) o.seconds = 20;
  return o;
}

// ---------------------------------------------------------------- the page
const LIBS = {
  '/hls.js': path.join(HERE, 'node_modules/hls.js/dist/hls.min.js'),
  '/dash.js': path.join(HERE, 'node_modules/dashjs/dist/modern/umd/dash.all.min.js'),
};

function pageHtml(kind) {
  const lib = kind === 'hls' ? '/hls.js' : '/dash.js';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>openkvs play</title></head>
<body>
<video id="v" muted playsinline autoplay width="640" height="360"></video>
<script src="${lib}"></script>
<script src="/page.js"></script>
</body></html>`;
}

// Runs inside the browser. Exposes window.__start(cfg) and window.__snapshot().
function pageMain() {
  const S = {
    log: [],
    fatalErrors: [],
    nonFatalErrors: 0,
    latency: [],
    frames: 0,
    ended: false,
    startCurrentTime: null,
    firstFrameAt: null,
    duration: null,
    pdtSeen: false,
  };
  const video = document.getElementById('v');
  const log = (m) => {
    S.log.push({ t: Date.now(), m: String(m) });
    if (S.log.length > 200) S.log.splice(0, S.log.length - 200);
  };
  const fatal = (m) => {
    S.fatalErrors.push(String(m));
    log('FATAL ' + m);
  };
  window.addEventListener('error', (e) => log('page error: ' + (e.message || e)));
  window.addEventListener('unhandledrejection', (e) => log('unhandled rejection: ' + (e.reason && e.reason.message || e.reason)));

  let hls = null;
  let dash = null;
  let levelDetails = null;
  let cfg = null;

  // Media time really played: sum of plausible forward currentTime steps,
  // sampled on every rendered frame and every 100 ms. Seeks and jumps (step
  // larger than twice the wall time elapsed) are not counted. (video.played
  // is not used: Chromium counts a pre-roll jump of currentTime as played.)
  let lastWall = null;
  let lastCt = 0;
  S.progress = 0;
  function track() {
    const w = performance.now();
    const ct = video.currentTime;
    if (lastWall !== null && !video.seeking && !video.paused) {
      const d = ct - lastCt;
      if (d > 0 && d <= ((w - lastWall) / 1000) * 2 + 0.05) S.progress += d;
    }
    lastWall = w;
    lastCt = ct;
  }

  function noteStart() {
    if (S.startCurrentTime === null && !video.paused && video.readyState >= 3) {
      S.startCurrentTime = video.currentTime;
      S.firstFrameAt = Date.now();
      log('first progress at currentTime=' + video.currentTime.toFixed(3));
    }
  }

  // Wall-clock (epoch ms) of the media time t, from #EXT-X-PROGRAM-DATE-TIME.
  function hlsWallClock(t) {
    const frags = levelDetails && levelDetails.fragments;
    if (frags) {
      for (let i = frags.length - 1; i >= 0; i--) {
        const f = frags[i];
        if (f.programDateTime == null) continue;
        if (t >= f.start - 0.001 && t < f.start + f.duration + 0.001) {
          return f.programDateTime + (t - f.start) * 1000;
        }
      }
    }
    const d = hls && hls.playingDate;
    return d ? d.getTime() + (t - video.currentTime) * 1000 : null;
  }

  function sampleLatency(mediaTime) {
    if (!cfg || cfg.mode !== 'live') return;
    const now = Date.now();
    let wall = null;
    if (hls) wall = hlsWallClock(mediaTime);
    else if (dash) {
      try {
        const utc = dash.timeAsUTC(); // seconds since epoch of the playhead
        if (Number.isFinite(utc) && utc > 1e9) wall = utc * 1000 + (mediaTime - video.currentTime) * 1000;
      } catch (e) { /* not initialised yet */ }
    }
    if (wall !== null && Number.isFinite(wall)) {
      S.latency.push(now - wall);
      if (S.latency.length > 20000) S.latency.shift();
    }
  }

  function onFrame(_now, meta) {
    S.frames++;
    track();
    noteStart();
    sampleLatency(meta && typeof meta.mediaTime === 'number' ? meta.mediaTime : video.currentTime);
    video.requestVideoFrameCallback(onFrame);
  }

  let durLogs = 0;
  for (const ev of ['loadedmetadata', 'playing', 'waiting', 'stalled', 'seeking', 'seeked', 'pause', 'ended', 'durationchange']) {
    video.addEventListener(ev, () => {
      if (ev === 'ended') S.ended = true;
      if (ev === 'playing') noteStart();
      if (ev === 'durationchange' || ev === 'loadedmetadata') S.duration = video.duration;
      if (ev === 'durationchange' && ++durLogs > 3) return; // chatty in live
      log('video:' + ev + ' t=' + video.currentTime.toFixed(3) +
        (ev === 'durationchange' || ev === 'loadedmetadata' ? ' duration=' + video.duration : '') +
        (ev === 'loadedmetadata' ? ' size=' + video.videoWidth + 'x' + video.videoHeight : ''));
    });
  }
  video.addEventListener('error', () => {
    const e = video.error;
    fatal('video element error: code=' + (e && e.code) + ' ' + (e && e.message));
  });

  function play() {
    const p = video.play();
    if (p && p.catch) p.catch((e) => log('video.play() rejected: ' + e.message));
  }

  function startHls() {
    if (typeof Hls === 'undefined') return fatal('hls.js not loaded');
    if (!Hls.isSupported()) return fatal('hls.js: MSE not supported in this browser');
    hls = new Hls({ debug: false, enableWorker: true });
    window.__hls = hls;
    log('hls.js ' + Hls.version);
    hls.on(Hls.Events.ERROR, (_ev, d) => {
      const code = d.response && d.response.code;
      const msg = 'hls ' + d.type + '/' + d.details + (code ? ' http=' + code : '') +
        (d.reason ? ' reason=' + d.reason : '') + (d.error && d.error.message ? ' err=' + d.error.message : '') +
        (d.url ? ' url=' + d.url : d.frag && d.frag.url ? ' url=' + d.frag.url : '');
      if (d.fatal) fatal(msg);
      else { S.nonFatalErrors++; log('non-fatal ' + msg); }
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_ev, d) => {
      log('hls:MANIFEST_PARSED levels=' + d.levels.length + ' ' + d.levels.map((l) =>
        [l.width ? l.width + 'x' + l.height : '', l.videoCodec, l.audioCodec].filter(Boolean).join(' ')).join(', '));
      play();
    });
    let levelLogged = 0;
    const onLevel = (name) => (_ev, d) => {
      levelDetails = d.details;
      const pdt = d.details.fragments.some((f) => f.programDateTime != null);
      if (pdt) S.pdtSeen = true;
      if (levelLogged++ < 2) {
        log('hls:' + name + ' live=' + d.details.live + ' frags=' + d.details.fragments.length +
          ' total=' + d.details.totalduration.toFixed(3) + ' target=' + d.details.targetduration + ' pdt=' + pdt);
      }
    };
    hls.on(Hls.Events.LEVEL_LOADED, onLevel('LEVEL_LOADED'));
    hls.on(Hls.Events.LEVEL_UPDATED, onLevel('LEVEL_UPDATED'));
    hls.on(Hls.Events.FRAG_CHANGED, (_ev, d) => {
      const f = d.frag;
      log('hls:FRAG_CHANGED sn=' + f.sn + ' start=' + f.start.toFixed(3) + ' dur=' + f.duration.toFixed(3) +
        (f.programDateTime != null ? ' pdt=' + new Date(f.programDateTime).toISOString() : ''));
    });
    hls.on(Hls.Events.BUFFER_EOS, () => log('hls:BUFFER_EOS'));
    hls.attachMedia(video);
    hls.loadSource(cfg.url);
  }

  function startDash() {
    if (typeof dashjs === 'undefined') return fatal('dash.js not loaded');
    dash = dashjs.MediaPlayer().create();
    window.__dash = dash;
    log('dash.js ' + (dash.getVersion ? dash.getVersion() : '?'));
    // Browser and server share this machine's clock: no UTC sync, and above
    // all no request to dash.js's default public time server.
    dash.updateSettings({
      debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
      streaming: { utcSynchronization: { enabled: false, useManifestDateHeaderTimeSource: false } },
    });
    const E = dashjs.MediaPlayer.events;
    dash.on(E.ERROR, (e) => {
      const er = e.error || e;
      fatal('dash error code=' + er.code + ' ' + (er.message || JSON.stringify(er).slice(0, 300)));
    });
    dash.on(E.PLAYBACK_ERROR, (e) => {
      const er = e.error || {};
      fatal('dash playbackError code=' + er.code + ' ' + (er.message || ''));
    });
    dash.on(E.MANIFEST_LOADED, (e) => {
      const m = e.data || {};
      log('dash:MANIFEST_LOADED type=' + m.type + ' ast=' + (m.availabilityStartTime || '') +
        ' dur=' + (m.mediaPresentationDuration || ''));
    });
    dash.on(E.STREAM_INITIALIZED, () => {
      log('dash:STREAM_INITIALIZED dynamic=' + dash.isDynamic());
      play();
    });
    if (E.FRAGMENT_LOADING_ABANDONED) dash.on(E.FRAGMENT_LOADING_ABANDONED, () => { S.nonFatalErrors++; log('dash:FRAGMENT_LOADING_ABANDONED'); });
    dash.on(E.PLAYBACK_ENDED, () => log('dash:PLAYBACK_ENDED'));
    dash.initialize(video, cfg.url, true);
  }

  window.__start = (c) => {
    cfg = c;
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) video.requestVideoFrameCallback(onFrame);
    else log('requestVideoFrameCallback unavailable, polling only');
    setInterval(() => { track(); noteStart(); }, 100);
    try {
      if (c.kind === 'hls') startHls();
      else startDash();
    } catch (e) {
      fatal('player setup threw: ' + (e && e.stack || e));
    }
  };

  window.__snapshot = () => {
    track();
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    const lat = S.latency.slice();
    return {
      now: Date.now(),
      currentTime: video.currentTime,
      duration: Number.isFinite(video.duration) ? video.duration : null,
      paused: video.paused,
      ended: S.ended || video.ended,
      played: S.progress,
      startCurrentTime: S.startCurrentTime,
      frames: S.frames,
      decodedFrames: q ? q.totalVideoFrames : null,
      droppedFrames: q ? q.droppedVideoFrames : null,
      videoWidth: video.videoWidth,
      videoHeight: video.videoHeight,
      fatalErrors: S.fatalErrors.slice(),
      nonFatalErrors: S.nonFatalErrors,
      latency: lat,
      pdtSeen: S.pdtSeen,
      log: S.log.slice(),
    };
  };
}

// ---------------------------------------------------------------- the harness
function percentile(sorted, p) {
  if (!sorted.length) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

const round3 = (x) => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x);

function startServer(kind) {
  const pageJs = `(${pageMain.toString()})();\n`;
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    const send = (code, type, body) => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (p === '/' || p === '/index.html') return send(200, 'text/html; charset=utf-8', pageHtml(kind));
    if (p === '/page.js') return send(200, 'application/javascript', pageJs);
    if (LIBS[p]) {
      return fs.readFile(LIBS[p], (err, buf) => {
        if (err) send(500, 'text/plain', String(err));
        else send(200, 'application/javascript', buf);
      });
    }
    if (p === '/favicon.ico') return send(204, 'text/plain', '');
    send(404, 'text/plain', 'not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    opts = usage(e.message);
  }
  const base = {
    ok: false,
    kind: opts.kind ?? null,
    mode: opts.mode ?? null,
    startCurrentTime: null,
    endCurrentTime: null,
    advanced: 0,
    ended: false,
    fatalErrors: [],
    nonFatalErrors: 0,
    latencyMs: null,
    log: [],
  };
  const emit = (obj, code) => {
    process.stdout.write(JSON.stringify(obj) + '\n');
    process.exitCode = code;
  };
  if (opts.usageError) {
    process.stderr.write(opts.usageError + '\n');
    emit({ ...base, harnessError: opts.usageError }, 2);
    return;
  }
  for (const f of Object.values(LIBS)) {
    if (!fs.existsSync(f)) {
      const msg = `missing ${f}: run "npm ci" in ${HERE}`;
      process.stderr.write(msg + '\n');
      emit({ ...base, harnessError: msg }, 2);
      return;
    }
  }
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    const msg = `no browser at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`;
    process.stderr.write(msg + '\n');
    emit({ ...base, harnessError: msg }, 2);
    return;
  }

  const t0 = Date.now();
  const nodeLog = [];
  const nlog = (m) => nodeLog.push({ t: Date.now(), m });
  let server = null;
  let browser = null;
  let finished = false;
  let last = null;
  let harnessError = null;
  const extraFatal = [];

  const cleanup = async () => {
    const b = browser;
    browser = null;
    if (b) {
      await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
    if (server) {
      server.closeAllConnections?.();
      server.close();
      server = null;
    }
  };
  // The JSON result, from the last page snapshot.
  const buildResult = (more = []) => {
    const s = last || {};
    const lat = (s.latency || []).slice().sort((a, b) => a - b);
    let latencyMs = null;
    if (opts.mode === 'live' && lat.length) {
      latencyMs = { p50: Math.round(percentile(lat, 50)), max: Math.round(lat[lat.length - 1]), samples: lat.length };
    } else if (opts.mode === 'live' && opts.kind === 'hls' && s.pdtSeen === false) {
      nodeLog.push({ t: Date.now(), m: 'no #EXT-X-PROGRAM-DATE-TIME in media playlist: latency not measured' });
    }
    const fatalErrors = [...(s.fatalErrors || []), ...extraFatal, ...more];
    if (harnessError) fatalErrors.push(`harness: ${harnessError}`);
    const start = s.startCurrentTime ?? null;
    const end = s.currentTime ?? null;
    // "advanced" = media time actually played (see track() in the page):
    // seeks/jumps are not counted.
    const advanced = round3(s.played ?? 0);
    const ended = !!s.ended;
    const reachedEnd = ended || (s.duration != null && end != null && end >= s.duration - 0.5);
    let ok = advanced >= MIN_ADVANCE_S && fatalErrors.length === 0;
    if (opts.mode === 'ondemand' && opts.expectEnd && !reachedEnd) ok = false;

    const log = [...(s.log || []), ...nodeLog]
      .sort((a, b) => a.t - b.t)
      .slice(-LOG_KEEP)
      .map((e) => `+${e.t - t0}ms ${e.m}`);
    return {
      ok,
      kind: opts.kind,
      mode: opts.mode,
      startCurrentTime: round3(start),
      endCurrentTime: round3(end),
      advanced,
      ended,
      fatalErrors,
      nonFatalErrors: s.nonFatalErrors ?? 0,
      latencyMs,
      duration: round3(s.duration ?? null),
      reachedEnd,
      framesRendered: s.frames ?? 0,
      droppedFrames: s.droppedFrames ?? null,
      videoSize: s.videoWidth ? `${s.videoWidth}x${s.videoHeight}` : null,
      elapsedMs: Date.now() - t0,
      log,
      ...(harnessError && !last ? { harnessError } : {}),
    };
  };
  // Signals: close the browser, report, exit non-zero.
  const onSignal = (sig) => {
    if (finished) return;
    finished = true;
    cleanup().finally(() => {
      emit({ ...buildResult([`harness interrupted by ${sig}`]), ok: false }, 1);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  try {
    const { chromium } = await import('playwright-core');
    server = await startServer(opts.kind);
    const pageUrl = `http://127.0.0.1:${server.address().port}/`;
    // Safety net: the browser resolves no host name but the media URL's
    // (IP literals such as 127.0.0.1 never go through the resolver).
    const mediaHost = new URL(opts.url).hostname;
    const resolverRules = `MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE ${mediaHost}`;
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30000,
      // our own handlers close the browser and still print the JSON line
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [
        '--no-sandbox',
        '--autoplay-policy=no-user-gesture-required',
        '--mute-audio',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--disable-background-media-suspend',
        '--disable-background-timer-throttling',
        '--disable-renderer-backgrounding',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        `--host-resolver-rules=${resolverRules}`,
      ],
    });
    nlog(`browser ${browser.version()} page ${pageUrl}`);
    const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
    page.on('console', (msg) => {
      const ty = msg.type();
      if (ty === 'error' || ty === 'warning' || ty === 'warn') nlog(`console.${ty}: ${msg.text().slice(0, 400)}`);
    });
    page.on('pageerror', (e) => nlog(`pageerror: ${String(e.message || e).slice(0, 400)}`));
    page.on('crash', () => extraFatal.push('page crashed'));
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(pageUrl)) return;
      nlog(`requestfailed ${r.failure()?.errorText} ${r.url().slice(0, 200)}`);
    });
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 30000 });
    await page.evaluate((c) => window.__start(c), { kind: opts.kind, url: opts.url, mode: opts.mode });

    const tStart = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      try {
        last = await page.evaluate(() => window.__snapshot());
      } catch (e) {
        extraFatal.push(`page evaluate failed: ${String(e.message || e).split('\n')[0]}`);
        break;
      }
      const elapsed = (Date.now() - tStart) / 1000;
      if (last.fatalErrors.length || extraFatal.length) break;
      const reachedEnd =
        last.ended || (last.duration !== null && last.currentTime >= last.duration - 0.5 && last.startCurrentTime !== null);
      if (opts.mode === 'ondemand') {
        if (reachedEnd) {
          if (!last.ended) {
            // give the 'ended' event a moment to fire
            await new Promise((r) => setTimeout(r, 1500));
            try { last = await page.evaluate(() => window.__snapshot()); } catch { /* keep last */ }
          }
          break;
        }
        let limit;
        if (opts.seconds !== null) limit = opts.seconds;
        else if (last.duration !== null) limit = last.duration + 30;
        else limit = STARTUP_LIMIT_S;
        if (!opts.expectEnd && opts.seconds === null && last.played >= MIN_ADVANCE_S + 0.5) break;
        if (elapsed >= limit) {
          nlog(`time limit ${limit.toFixed(1)} s reached`);
          break;
        }
      } else {
        if (last.ended) break;
        if (elapsed >= opts.seconds) break;
      }
    }
  } catch (e) {
    harnessError = String((e && e.message) || e).split('\n').slice(0, 3).join(' | ');
    nlog(`harness error: ${harnessError}`);
  } finally {
    await cleanup();
  }
  if (finished) return;
  finished = true;

  const out = buildResult();
  emit(out, out.ok ? 0 : harnessError && !last ? 2 : 1);
}

// Hard watchdog: whatever happens, never hang. Computed generously from the args.
{
  const a = process.argv;
  const i = a.indexOf('--seconds');
  const secs = i >= 0 ? Number(a[i + 1]) || 0 : 0;
  const hard = (Math.max(secs, 20) + 120) * 1000 + (a.includes('ondemand') && i < 0 ? 3600 * 1000 : 0);
  const wd = setTimeout(() => {
    process.stderr.write('play.mjs: watchdog fired, exiting\n');
    process.stdout.write(JSON.stringify({ ok: false, fatalErrors: ['harness watchdog timeout'] }) + '\n');
    process.exit(1); // playwright kills the browser it launched on process exit
  }, hard);
  wd.unref();
}

main().then(
  () => process.exit(process.exitCode ?? 1),
  (e) => {
    process.stderr.write(`play.mjs: ${e && e.stack || e}\n`);
    process.stdout.write(JSON.stringify({ ok: false, fatalErrors: [`harness crash: ${e && e.message}`] }) + '\n');
    process.exit(2);
  },
);
