#!/usr/bin/env node
// Reproducible build step of the openkvs web console's only third-party code.
//
//   cd console && npm ci && npm run build     # writes vendor/hls.light.min.mjs and vendor/SHA256SUMS
//   npm run check                             # exits 1 if the committed files differ from a fresh build
//
// The file is hls.js's own published ES-module build (the "light" variant: HLS playback without
// subtitles, alternate audio, DRM or CMCD), copied byte for byte from the version pinned in
// package.json / package-lock.json. The Rust build embeds vendor/ with include_bytes! and never
// runs npm; `cargo test --lib console_vendored_hls` checks the recorded SHA-256 and, where an
// installed copy exists, the bytes.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FILE = 'hls.light.min.mjs';
const check = process.argv.includes('--check');

const pkgDir = path.join(HERE, 'node_modules/hls.js');
if (!fs.existsSync(pkgDir)) {
  console.error('node_modules/hls.js is missing: run `npm ci` in console/ first');
  process.exit(2);
}
const pinned = JSON.parse(fs.readFileSync(path.join(HERE, 'package.json'), 'utf8')).devDependencies['hls.js'];
const installed = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
if (installed !== pinned) {
  console.error(`installed hls.js ${installed} is not the pinned ${pinned}: run \`npm ci\``);
  process.exit(2);
}

const bytes = fs.readFileSync(path.join(pkgDir, 'dist', FILE));
const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
const sums =
  `# hls.js@${installed} dist/${FILE}, copied by console/build.mjs (npm run build)\n` +
  `${sha256}  ${FILE}\n`;

const vendor = path.join(HERE, 'vendor');
const outFile = path.join(vendor, FILE);
const outSums = path.join(vendor, 'SHA256SUMS');
if (check) {
  const same = (p, want) => fs.existsSync(p) && Buffer.compare(fs.readFileSync(p), Buffer.from(want)) === 0;
  if (same(outFile, bytes) && same(outSums, sums)) {
    console.log(`vendor/ is up to date (hls.js@${installed}, sha256 ${sha256})`);
    process.exit(0);
  }
  console.error('vendor/ differs from a fresh build: run `npm run build` in console/ and commit vendor/');
  process.exit(1);
}
fs.mkdirSync(vendor, { recursive: true });
fs.writeFileSync(outFile, bytes);
fs.writeFileSync(outSums, sums);
console.log(`wrote vendor/${FILE} (${bytes.length} bytes, hls.js@${installed}, sha256 ${sha256})`);
