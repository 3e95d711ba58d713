// The openkvs detection worker's inference process. openkvs starts it (`node detector.cjs …`),
// keeps it running and restarts it; it owns nothing but the models: pixels in, boxes out.
//
// Protocol (stdin/stdout, one request at a time):
//   openkvs -> process: a JSON line {"width":W,"height":H}, then W*H*3 bytes of packed RGB
//   process -> openkvs: a JSON line {"objects":[{"label","class","score","box":[x,y,w,h]}],
//                        "faces":[{"score","box":[x,y,w,h]}],"ms":N}, boxes normalised to 0..1
//                        of the picture sent; or {"error":"..."} for a request that failed.
// Before the first request it writes one line {"ready":true,...} naming the runtime and models.
// Everything else the libraries print goes to stderr.
//
// Arguments: --object-model FILE (a TensorFlow.js graph model of the CenterNet family as
// @vladmandic/human runs it; default: the MobileNetV3 CenterNet that package ships), --labels FILE
// (its class names, a JSON array or one per line, by class index; default: the model's COCO
// names), --face-model FILE (BlazeFace family; default: the one the package ships), --no-faces,
// --min-score S (the lowest score reported; openkvs filters further per stream).
'use strict';

const fs = require('fs');
const path = require('path');

const out = process.stdout;
for (const level of ['log', 'info', 'warn', 'debug']) console[level] = (...a) => process.stderr.write(`${a.join(' ')}\n`);

function args(argv) {
  const o = { objectModel: null, labels: null, faceModel: null, faces: true, minScore: 0.2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--object-model') o.objectModel = path.resolve(argv[++i]);
    else if (a === '--labels') o.labels = path.resolve(argv[++i]);
    else if (a === '--face-model') o.faceModel = path.resolve(argv[++i]);
    else if (a === '--no-faces') o.faces = false;
    else if (a === '--min-score') o.minScore = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function readLabels(file) {
  const text = fs.readFileSync(file, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed).map(String);
  return trimmed.split(/\r?\n/).map((l) => l.trim());
}

// tfjs loads models with fetch; these are local files.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, opts) => {
  const u = String(url);
  if (u.startsWith('file://')) return new Response(fs.readFileSync(decodeURIComponent(u.slice('file://'.length))));
  return realFetch(url, opts);
};

async function main() {
  const opts = args(process.argv.slice(2));
  const humanDir = path.dirname(path.dirname(require.resolve('@vladmandic/human', { paths: [__dirname] })));
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json', { paths: [__dirname] })), 'dist') + path.sep;
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-wasm').setWasmPaths(wasmDir);
  const { Human } = require(path.join(humanDir, 'dist', 'human.node-wasm.js'));
  const objectModel = opts.objectModel || path.join(humanDir, 'models', 'centernet.json');
  const faceModel = opts.faceModel || path.join(humanDir, 'models', 'blazeface.json');
  const labels = opts.labels ? readLabels(opts.labels) : null;
  const human = new Human({
    backend: 'wasm',
    wasmPath: wasmDir,
    modelBasePath: `file://${path.join(humanDir, 'models')}/`,
    debug: false,
    cacheSensitivity: 0,
    filter: { enabled: false },
    face: {
      enabled: opts.faces,
      detector: { modelPath: `file://${faceModel}`, rotation: false, maxDetected: 20, minConfidence: opts.minScore, return: false },
      mesh: { enabled: false }, iris: { enabled: false }, description: { enabled: false },
      emotion: { enabled: false }, antispoof: { enabled: false }, liveness: { enabled: false },
    },
    body: { enabled: false }, hand: { enabled: false }, gesture: { enabled: false }, segmentation: { enabled: false },
    object: { enabled: true, modelPath: `file://${objectModel}`, minConfidence: opts.minScore, maxDetected: 20 },
  });
  await human.load();
  out.write(`${JSON.stringify({
    ready: true,
    runtime: `tfjs-core ${tf.version_core} (${tf.getBackend()})`,
    human: human.version,
    objectModel,
    faceModel: opts.faces ? faceModel : null,
    labels: labels ? labels.length : null,
  })}\n`);

  let pending = Buffer.alloc(0);
  let header = null;
  let busy = Promise.resolve();
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const box = (b) => {
    const x = clamp(b[0]);
    const y = clamp(b[1]);
    return [x, y, clamp(b[0] + b[2]) - x, clamp(b[1] + b[3]) - y];
  };
  const detect = async (h, pixels) => {
    const started = Date.now();
    const input = tf.tensor4d(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length), [1, h.height, h.width, 3], 'int32');
    try {
      const r = await human.detect(input);
      const objects = r.object.map((o) => ({
        label: labels ? (labels[o.class] ?? `class ${o.class}`) : o.label,
        class: o.class,
        score: o.score,
        box: box(o.boxRaw),
      }));
      const faces = (r.face || []).map((f) => ({ score: f.boxScore ?? f.score, box: box(f.boxRaw) }));
      return { objects, faces, ms: Date.now() - started };
    } finally {
      input.dispose();
    }
  };
  const pump = () => {
    for (;;) {
      if (!header) {
        const nl = pending.indexOf(10);
        if (nl < 0) return;
        const line = pending.subarray(0, nl).toString('utf8');
        pending = pending.subarray(nl + 1);
        try {
          header = JSON.parse(line);
          if (!(header.width > 0 && header.height > 0 && header.width * header.height <= 4096 * 4096)) throw new Error('bad size');
        } catch (e) {
          out.write(`${JSON.stringify({ error: `bad request header: ${e.message}` })}\n`);
          header = null;
          continue;
        }
      }
      const need = header.width * header.height * 3;
      if (pending.length < need) return;
      const h = header;
      const pixels = Buffer.from(pending.subarray(0, need));
      pending = pending.subarray(need);
      header = null;
      busy = busy.then(async () => {
        let reply;
        try {
          reply = await detect(h, pixels);
        } catch (e) {
          reply = { error: String(e && e.message ? e.message : e) };
        }
        out.write(`${JSON.stringify(reply)}\n`);
      });
    }
  };
  process.stdin.on('data', (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pump();
  });
  process.stdin.on('end', () => busy.then(() => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`detector failed to start: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
