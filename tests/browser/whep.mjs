#!/usr/bin/env node
// Headless-Chromium WHEP viewer (openkvs browser harness).
//
//   node tests/browser/whep.mjs --url WHEP_URL [--viewers N] [--seconds S]
//        [--min-frames N] [--no-trickle] [--relay-only --ice-servers JSON]
//
// Each viewer page is a plain WHEP client written against the WHEP RFC (no
// library): an RTCPeerConnection with receive-only video and audio
// transceivers, POST of the SDP offer (application/sdp) to the URL, the 201
// answer and Location, trickled candidates by PATCH
// (application/trickle-ice-sdpfrag) unless --no-trickle (then the offer
// waits for ICE gathering to complete), and DELETE of the session at the end.
//
// Glass-to-glass latency: openkvs puts the producer timestamp (epoch ms) in
// the RTP timestamp (x90 for 90 kHz video, modulo 2^32). For every rendered
// frame (requestVideoFrameCallback) the page reads metadata.rtpTimestamp and
// computes (expected display time) - (producer time). With `openkvs put
// --realtime` the producer time is the wall-clock time the frame was sent.
//
// Prints exactly one JSON line; exit 0 iff ok (every viewer rendered at least
// --min-frames frames, default 30, and its DELETE answered 200), 1 not ok,
// 2 harness error (no browser, no node_modules).

import http from 'node:http';

function parseArgs(argv) {
  const o = { url: null, viewers: 1, seconds: 20, minFrames: 30, trickle: true, relayOnly: false, iceServers: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    if (a === '--url') o.url = val();
    else if (a === '--viewers') o.viewers = Number(val());
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--min-frames') o.minFrames = Number(val());
    else if (a === '--no-trickle') o.trickle = false;
    else if (a === '--relay-only') o.relayOnly = true;
    else if (a === '--ice-servers') o.iceServers = JSON.parse(val());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.url || !/^https?:\/\//.test(o.url)) throw new Error('--url must be an http(s) URL');
  return o;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>whep</title></head>
<body><video id="v" muted playsinline autoplay width="640" height="360"></video>
<script>
const S = { log: [], frames: 0, latency: [], firstFrameAt: null, size: null, audioTrack: false,
            audioPackets: 0, state: 'new', location: null, postStatus: null, patches: 0, patchStatus: [],
            deleteStatus: null, error: null, startedAt: Date.now() };
window.__S = S;
const log = (m) => { S.log.push((Date.now() - S.startedAt) + 'ms ' + m); if (S.log.length > 60) S.log.shift(); };
const video = document.getElementById('v');
function onFrame(now, meta) {
  S.frames++;
  if (S.firstFrameAt === null) { S.firstFrameAt = Date.now() - S.startedAt; S.size = video.videoWidth + 'x' + video.videoHeight; log('first frame ' + S.size); }
  if (meta && typeof meta.rtpTimestamp === 'number') {
    const shown = performance.timeOrigin + (meta.expectedDisplayTime || now);
    const wrap = 4294967296;
    const delta = (((Math.round(shown * 90) - meta.rtpTimestamp) % wrap) + wrap) % wrap;
    S.latency.push(delta / 90);
    if (S.latency.length > 20000) S.latency.shift();
  }
  video.requestVideoFrameCallback(onFrame);
}
video.requestVideoFrameCallback(onFrame);
window.__start = async (cfg) => {
  try {
    const pc = new RTCPeerConnection({ iceServers: cfg.iceServers, iceTransportPolicy: cfg.relayOnly ? 'relay' : 'all' });
    window.__pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = (e) => { stream.addTrack(e.track); if (e.track.kind === 'audio') S.audioTrack = true; video.srcObject = stream; video.play().catch(() => {}); };
    pc.onconnectionstatechange = () => { S.state = pc.connectionState; log('connection ' + pc.connectionState); };
    const pending = [];
    let resource = null;
    const patch = async (frag) => {
      const r = await fetch(resource, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: frag });
      S.patches++; S.patchStatus.push(r.status);
    };
    pc.onicecandidate = (e) => {
      if (!cfg.trickle || !e.candidate || !e.candidate.candidate) return;
      const frag = 'a=ice-ufrag:' + ufrag + '\\r\\na=ice-pwd:' + pwd + '\\r\\nm=audio 9 RTP/AVP 0\\r\\na=mid:' + e.candidate.sdpMid + '\\r\\na=' + e.candidate.candidate + '\\r\\n';
      if (resource) patch(frag).catch((err) => log('PATCH failed ' + err)); else pending.push(frag);
    };
    let ufrag = '', pwd = '';
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (!cfg.trickle) {
      await new Promise((res) => { if (pc.iceGatheringState === 'complete') res(); pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); }; });
    }
    const sdp = pc.localDescription.sdp;
    ufrag = (sdp.match(/a=ice-ufrag:(.*)/) || [])[1] || ''; ufrag = ufrag.trim();
    pwd = (sdp.match(/a=ice-pwd:(.*)/) || [])[1] || ''; pwd = pwd.trim();
    const r = await fetch(cfg.url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp });
    S.postStatus = r.status;
    const body = await r.text();
    if (r.status !== 201) { S.error = 'POST answered ' + r.status + ': ' + body.slice(0, 200); log(S.error); return; }
    S.location = r.headers.get('Location');
    resource = new URL(S.location, cfg.url).toString();
    log('201, Location ' + S.location);
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    for (const f of pending.splice(0)) patch(f).catch((err) => log('PATCH failed ' + err));
    window.__delete = async () => { const d = await fetch(resource, { method: 'DELETE' }); S.deleteStatus = d.status; pc.close(); };
    setInterval(async () => {
      const stats = await pc.getStats();
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') S.audioPackets = s.packetsReceived; });
    }, 500);
  } catch (e) { S.error = String(e && e.message || e); log('error ' + S.error); }
};
</script></body></html>`;

function pct(a, p) {
  if (!a.length) return null;
  const s = [...a].sort((x, y) => x - y);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e.message) }) + '\n');
    process.exit(2);
  }
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    process.stdout.write(JSON.stringify({ ok: false, error: 'playwright-core missing (npm ci)' }) + '\n');
    process.exit(2);
  }
  const server = http.createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(PAGE); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${server.address().port}/`;
  let browser;
  try {
    browser = await chromium.launch({
      executablePath, headless: true, timeout: 30000,
      args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio', '--disable-gpu',
        '--disable-dev-shm-usage', '--no-first-run', '--disable-background-media-suspend',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection',
        '--ignore-certificate-errors'],
    });
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: `browser did not start: ${e.message}` }) + '\n');
    process.exit(2);
  }
  const pages = [];
  for (let i = 0; i < opts.viewers; i++) {
    const page = await browser.newPage({ viewport: { width: 700, height: 420 } });
    await page.goto(pageUrl);
    await page.evaluate((cfg) => window.__start(cfg), { url: opts.url, trickle: opts.trickle, relayOnly: opts.relayOnly, iceServers: opts.iceServers });
    pages.push(page);
  }
  const deadline = Date.now() + opts.seconds * 1000;
  while (Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const states = [];
  for (const p of pages) {
    await p.evaluate(() => window.__delete && window.__delete()).catch(() => {});
    states.push(await p.evaluate(() => window.__S));
  }
  await browser.close();
  server.close();
  const latency = states.flatMap((s) => s.latency.slice(Math.min(s.latency.length - 1, 5)));
  const ok = states.every((s) => s.frames >= opts.minFrames && s.deleteStatus === 200 && !s.error);
  const out = {
    ok,
    viewers: states.length,
    frames: states.map((s) => s.frames),
    firstFrameMs: states.map((s) => s.firstFrameAt),
    latencyMs: { p50: pct(latency, 50), p90: pct(latency, 90), max: pct(latency, 100), samples: latency.length },
    videoSize: states.map((s) => s.size),
    audioTrack: states.map((s) => s.audioTrack),
    audioPackets: states.map((s) => s.audioPackets),
    postStatus: states.map((s) => s.postStatus),
    location: states.map((s) => s.location),
    patchStatus: states.map((s) => [...new Set(s.patchStatus)]),
    deleteStatus: states.map((s) => s.deleteStatus),
    connection: states.map((s) => s.state),
    errors: states.map((s) => s.error).filter(Boolean),
    log: states.flatMap((s, i) => s.log.slice(-15).map((l) => `viewer${i + 1} ${l}`)),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(ok ? 0 : 1);
}

setTimeout(() => {
  process.stdout.write(JSON.stringify({ ok: false, error: 'watchdog timeout' }) + '\n');
  process.exit(1);
}, 180000).unref();

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: `harness crash: ${e && e.message}` }) + '\n');
  process.exit(2);
});
