#!/usr/bin/env node
// Bundles the KVS WebRTC SDK and the AWS SDK v3 Kinesis Video clients for the
// browser: webrtc/entry.js -> webrtc/dist/bundle.js (gitignored).
//   npm run build:webrtc        (from tests/browser)
// Exit 0 on success, 2 when node_modules is missing or the build fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const OUT = path.join(HERE, 'dist', 'bundle.js');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (e) {
  process.stderr.write(`build.mjs: esbuild not found (${e.message}): run "npm ci" in ${ROOT}\n`);
  process.exit(2);
}

const versionOf = (name) =>
  JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

try {
  const versions = {
    'amazon-kinesis-video-streams-webrtc': versionOf('amazon-kinesis-video-streams-webrtc'),
    '@aws-sdk/client-kinesis-video': versionOf('@aws-sdk/client-kinesis-video'),
    '@aws-sdk/client-kinesis-video-signaling': versionOf('@aws-sdk/client-kinesis-video-signaling'),
  };
  const res = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(HERE, 'entry.js')],
    outfile: OUT,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'warning',
    metafile: true,
    banner: { js: `/* openkvs tests/browser WebRTC bundle: ${JSON.stringify(versions)} */` },
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const bytes = fs.statSync(OUT).size;
  const inputs = Object.keys(res.metafile.inputs).length;
  process.stderr.write(`build.mjs: wrote ${path.relative(ROOT, OUT)} (${bytes} bytes, ${inputs} inputs) ${JSON.stringify(versions)}\n`);
} catch (e) {
  process.stderr.write(`build.mjs: build failed: ${e.message}\n`);
  process.exit(2);
}
