#!/usr/bin/env node
// Minimal stand-in for KVS signaling, to check the WebRTC harness itself without
// openkvs (webrtc/selftest.sh). NOT a reference implementation: no SigV4 check, one
// in-memory channel table, no message retention.
//
//   node webrtc/mock-signaling.mjs --cert cert.pem --key key.pem [--port 0]
//
// Prints "listening https://127.0.0.1:PORT" on stdout once ready. Serves, on one port:
//   POST /createSignalingChannel, /describeSignalingChannel, /getSignalingChannelEndpoint
//   POST /v1/get-ice-server-config                 (IceServerList: [])
//   GET  /?X-Amz-ChannelARN=..[&X-Amz-ClientId=..]  WebSocket upgrade, relays
//        SDP_OFFER / SDP_ANSWER / ICE_CANDIDATE as KVS does (see KVS-API.md section 6).
// CORS is open (the harness pages come from another origin).
import https from 'node:https';
import fs from 'node:fs';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const cert = fs.readFileSync(arg('--cert'));
const key = fs.readFileSync(arg('--key'));
const port = Number(arg('--port', '0'));
const REGION = 'us-east-1';

const channels = new Map(); // name -> { arn, master: ws|null, viewers: Map<clientId, ws> }
const byArn = new Map();
let base = null;

function channel(name) {
  if (!channels.has(name)) {
    const arn = `arn:aws:kinesisvideo:${REGION}:000000000000:channel/${name}/${Date.now()}`;
    const c = { name, arn, master: null, viewers: new Map() };
    channels.set(name, c);
    byArn.set(arn, c);
  }
  return channels.get(name);
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': '*',
  'access-control-expose-headers': '*',
  'access-control-max-age': '600',
};

function send(res, status, obj, more = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': String(Date.now()), ...CORS, ...more });
  res.end(body);
}
const notFound = (res, what) =>
  send(res, 404, { message: `${what} not found` }, { 'x-amzn-errortype': 'ResourceNotFoundException:' });

const server = https.createServer({ cert, key }, (req, res) => {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, CORS);
    return res.end();
  }
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    let input = {};
    try {
      input = body ? JSON.parse(body) : {};
    } catch {
      return send(res, 400, { message: 'bad json' });
    }
    const path = new URL(req.url, 'https://x').pathname;
    process.stderr.write(`mock: ${req.method} ${path} ${body.slice(0, 200)}\n`);
    if (path === '/createSignalingChannel') {
      return send(res, 200, { ChannelARN: channel(input.ChannelName).arn });
    }
    if (path === '/describeSignalingChannel') {
      const c = input.ChannelName ? channels.get(input.ChannelName) : byArn.get(input.ChannelARN);
      if (!c) return notFound(res, 'channel');
      return send(res, 200, {
        ChannelInfo: { ChannelName: c.name, ChannelARN: c.arn, ChannelType: 'SINGLE_MASTER', ChannelStatus: 'ACTIVE', CreationTime: Date.now() / 1000, SingleMasterConfiguration: { MessageTtlSeconds: 60 }, Version: '1' },
      });
    }
    if (path === '/getSignalingChannelEndpoint') {
      if (!byArn.get(input.ChannelARN)) return notFound(res, 'channel');
      const protos = input.SingleMasterChannelEndpointConfiguration?.Protocols || ['WSS', 'HTTPS'];
      return send(res, 200, {
        ResourceEndpointList: protos.map((p) => ({ Protocol: p, ResourceEndpoint: p === 'WSS' ? base.replace('https:', 'wss:') : base })),
      });
    }
    if (path === '/v1/get-ice-server-config') {
      if (!byArn.get(input.ChannelARN)) return notFound(res, 'channel');
      return send(res, 200, { IceServerList: [] });
    }
    return send(res, 404, { message: `no route ${path}` });
  });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const q = new URL(req.url, 'https://x').searchParams;
  const c = byArn.get(q.get('X-Amz-ChannelARN'));
  if (!c || !q.get('X-Amz-Signature')) {
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    return;
  }
  const clientId = q.get('X-Amz-ClientId');
  wss.handleUpgrade(req, socket, head, (ws) => {
    const who = clientId ? `viewer ${clientId}` : 'master';
    process.stderr.write(`mock: ws open ${who}\n`);
    if (clientId) c.viewers.set(clientId, ws);
    else {
      if (c.master) c.master.close();
      c.master = ws;
    }
    ws.on('message', (data) => {
      let m;
      try {
        m = JSON.parse(String(data));
      } catch {
        return;
      }
      const lower = Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
      const out = { messageType: lower.action, messagePayload: lower.messagepayload };
      let to;
      if (clientId) {
        to = c.master;
        out.senderClientId = clientId;
      } else {
        to = c.viewers.get(lower.recipientclientid);
      }
      process.stderr.write(`mock: ${who} -> ${clientId ? 'master' : lower.recipientclientid} ${lower.action}${to ? '' : ' (dropped: recipient not connected)'}\n`);
      if (to && to.readyState === 1) to.send(JSON.stringify(out));
    });
    ws.on('close', () => {
      if (clientId) c.viewers.delete(clientId);
      else if (c.master === ws) c.master = null;
    });
  });
});

server.listen(port, '127.0.0.1', () => {
  base = `https://127.0.0.1:${server.address().port}`;
  process.stdout.write(`listening ${base}\n`);
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0));
