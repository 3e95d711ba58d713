// Shared code of master.html / viewer.html (openkvs WebRTC harness).
// Follows the KVS WebRTC SDK sample (examples/ in amazon-kinesis-video-streams-webrtc-sdk-js):
// KinesisVideoClient -> DescribeSignalingChannel -> GetSignalingChannelEndpoint(Role, [WSS, HTTPS])
// -> KinesisVideoSignalingClient(endpoint = HTTPS endpoint).GetIceServerConfig
// -> KVSWebRTC.SignalingClient(WSS endpoint) -> RTCPeerConnection.
//
// Page parameters (query string):
//   endpoint        control-plane endpoint, e.g. https://127.0.0.1:8443 (required)
//   channel         signaling channel name (required)
//   clientId        viewer client id (viewer only; default viewer-<random>)
//   region          default us-east-1
//   accessKeyId     default openkvs
//   secretAccessKey default openkvs-secret
//   sessionToken    optional
//   stun=1          also add the sample's stun:stun.kinesisvideo.<region>.amazonaws.com:443 (off:
//                   no network here; host candidates are enough on one machine)
//   turn=0          ignore the TURN servers from GetIceServerConfig (default: use them)
//   audio=0         master sends video only (default video + audio)
//   relay=1         iceTransportPolicy 'relay': only TURN relay candidates (GetIceServerConfig's)
//   storageViewer=1 viewer: join the channel's storage session (JoinStorageSessionAsViewer) and
//                   answer openkvs's offer instead of offering to the master
//   create=1        master: create the channel if DescribeSignalingChannel says it does not exist
//   dryrun=1        only check that the SDK globals exist, sign a URL, and (master) open the camera
//
// The harness (webrtc.mjs) reads window.__kvs: {role, phase, signalingOpen, errors, log, ...}.
'use strict';

const KVS = (window.__kvs = {
    role: null,
    phase: 'loading',
    signalingOpen: false,
    errors: [],
    log: [],
    channelARN: null,
    endpoints: null,
    iceServers: null,
});

function kvsLog(...args) {
    const m = args
        .map(a => {
            if (a instanceof Error) return `${a.name}: ${a.message}`;
            if (typeof a === 'object') {
                try {
                    return JSON.stringify(a);
                } catch (e) {
                    return String(a);
                }
            }
            return String(a);
        })
        .join(' ');
    KVS.log.push({ t: Date.now(), m: `[${KVS.role || '?'}] ${m}` });
    if (KVS.log.length > 300) KVS.log.splice(0, KVS.log.length - 300);
    const el = document.getElementById('log');
    if (el) el.textContent = KVS.log.slice(-25).map(e => e.m).join('\n');
    console.log(`[${KVS.role || '?'}]`, ...args);
}

function kvsError(...args) {
    kvsLog('ERROR', ...args);
    KVS.errors.push(KVS.log[KVS.log.length - 1].m);
}

function setPhase(p) {
    KVS.phase = p;
    kvsLog('phase', p);
    const el = document.getElementById('phase');
    if (el) el.textContent = p;
}

window.addEventListener('error', e => kvsError('page error:', e.message || String(e)));
window.addEventListener('unhandledrejection', e => kvsError('unhandled rejection:', (e.reason && e.reason.message) || String(e.reason)));

function readParams() {
    const q = new URLSearchParams(location.search);
    const p = {
        endpoint: q.get('endpoint'),
        channelName: q.get('channel'),
        clientId: q.get('clientId') || `viewer-${Math.random().toString(36).slice(2, 10)}`,
        region: q.get('region') || 'us-east-1',
        accessKeyId: q.get('accessKeyId') || 'openkvs',
        secretAccessKey: q.get('secretAccessKey') || 'openkvs-secret',
        sessionToken: q.get('sessionToken') || undefined,
        useStun: q.get('stun') === '1',
        useTurn: q.get('turn') !== '0',
        sendAudio: q.get('audio') !== '0',
        create: q.get('create') === '1',
        dryRun: q.get('dryrun') === '1',
        storage: q.get('storage') === '1',
        relay: q.get('relay') === '1',
        storageViewer: q.get('storageViewer') === '1',
    };
    return p;
}

function credentialsOf(p) {
    return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, sessionToken: p.sessionToken };
}

// Checks the globals from dist/bundle.js, as the harness's --dry-run asks.
function checkGlobals() {
    const missing = [];
    if (typeof KVSWebRTC === 'undefined') missing.push('KVSWebRTC');
    else {
        for (const k of ['SignalingClient', 'SigV4RequestSigner', 'Role']) if (!KVSWebRTC[k]) missing.push(`KVSWebRTC.${k}`);
    }
    if (typeof AWS === 'undefined') missing.push('AWS');
    else {
        const kv = AWS.KinesisVideo || {};
        const sig = AWS.KinesisVideoSignaling || {};
        for (const k of ['KinesisVideoClient', 'DescribeSignalingChannelCommand', 'GetSignalingChannelEndpointCommand', 'CreateSignalingChannelCommand'])
            if (!kv[k]) missing.push(`AWS.KinesisVideo.${k}`);
        for (const k of ['KinesisVideoSignalingClient', 'GetIceServerConfigCommand']) if (!sig[k]) missing.push(`AWS.KinesisVideoSignaling.${k}`);
    }
    if (typeof RTCPeerConnection === 'undefined') missing.push('RTCPeerConnection');
    if (!(window.crypto && window.crypto.subtle)) missing.push('crypto.subtle (not a secure context?)');
    return missing;
}

// Dry run: globals, then the SDK's SigV4 presigner on a made-up channel (no network).
async function dryRun(p, role) {
    const missing = checkGlobals();
    KVS.dryRun = { missing, sdkVersion: typeof KVSWebRTC !== 'undefined' ? KVSWebRTC.VERSION : null };
    if (missing.length) {
        kvsError('missing globals:', missing.join(', '));
        return false;
    }
    const signer = new KVSWebRTC.SigV4RequestSigner(p.region, credentialsOf(p));
    const qp = { 'X-Amz-ChannelARN': `arn:aws:kinesisvideo:${p.region}:000000000000:channel/${p.channelName || 'dry-run'}/0` };
    if (role === 'VIEWER') qp['X-Amz-ClientId'] = p.clientId;
    const url = await signer.getSignedURL('wss://127.0.0.1:1', qp, new Date());
    KVS.dryRun.signedUrl = url;
    // The SignalingClient constructor validates its config; do not open it.
    new KVSWebRTC.SignalingClient({
        channelARN: qp['X-Amz-ChannelARN'],
        channelEndpoint: 'wss://127.0.0.1:1',
        role: KVSWebRTC.Role[role],
        region: p.region,
        clientId: role === 'VIEWER' ? p.clientId : undefined,
        credentials: credentialsOf(p),
    });
    kvsLog('dry run: globals ok, KVS WebRTC SDK', KVSWebRTC.VERSION, 'signed URL', url.split('?')[0], 'with', url.split('&').length, 'params');
    return true;
}

// The sample's describe -> endpoints -> ICE config sequence. Returns what the
// SignalingClient and the RTCPeerConnection need.
async function setUpChannel(p, role) {
    const clientArgs = { region: p.region, credentials: credentialsOf(p) };
    const kinesisVideoClient = new AWS.KinesisVideo.KinesisVideoClient({
        ...clientArgs,
        endpoint: p.endpoint,
        correctClockSkew: true,
    });

    setPhase('describeSignalingChannel');
    let describe;
    try {
        describe = await kinesisVideoClient.send(new AWS.KinesisVideo.DescribeSignalingChannelCommand({ ChannelName: p.channelName }));
    } catch (e) {
        if (!(p.create && e.name === 'ResourceNotFoundException')) throw e;
        // As examples/createSignalingChannel.js does.
        setPhase('createSignalingChannel');
        const created = await kinesisVideoClient.send(
            new AWS.KinesisVideo.CreateSignalingChannelCommand({ ChannelName: p.channelName, ChannelType: 'SINGLE_MASTER' }),
        );
        kvsLog('created channel', created.ChannelARN);
        setPhase('describeSignalingChannel');
        describe = await kinesisVideoClient.send(new AWS.KinesisVideo.DescribeSignalingChannelCommand({ ChannelName: p.channelName }));
    }
    const channelARN = describe.ChannelInfo.ChannelARN;
    KVS.channelARN = channelARN;
    kvsLog('Channel ARN:', channelARN);

    setPhase('getSignalingChannelEndpoint');
    const endpointResponse = await kinesisVideoClient.send(
        new AWS.KinesisVideo.GetSignalingChannelEndpointCommand({
            ChannelARN: channelARN,
            SingleMasterChannelEndpointConfiguration: {
                Protocols: ['WSS', 'HTTPS'],
                Role: role,
            },
        }),
    );
    const endpointsByProtocol = endpointResponse.ResourceEndpointList.reduce((endpoints, endpoint) => {
        endpoints[endpoint.Protocol] = endpoint.ResourceEndpoint;
        return endpoints;
    }, {});
    KVS.endpoints = endpointsByProtocol;
    kvsLog('Endpoints:', endpointsByProtocol);
    if (!endpointsByProtocol.WSS || !endpointsByProtocol.HTTPS) throw new Error(`GetSignalingChannelEndpoint: missing WSS or HTTPS endpoint: ${JSON.stringify(endpointsByProtocol)}`);

    setPhase('getIceServerConfig');
    const kinesisVideoSignalingChannelsClient = new AWS.KinesisVideoSignaling.KinesisVideoSignalingClient({
        ...clientArgs,
        endpoint: endpointsByProtocol.HTTPS,
        correctClockSkew: true,
    });
    const iceConfig = await kinesisVideoSignalingChannelsClient.send(
        new AWS.KinesisVideoSignaling.GetIceServerConfigCommand({
            ChannelARN: channelARN,
            ClientId: role === 'VIEWER' ? p.clientId : undefined,
        }),
    );
    const iceServers = [];
    if (p.useStun) iceServers.push({ urls: `stun:stun.kinesisvideo.${p.region}.amazonaws.com:443` });
    const list = iceConfig.IceServerList || [];
    if (p.useTurn) {
        list.forEach(iceServer =>
            iceServers.push({
                urls: iceServer.Uris,
                username: iceServer.Username,
                credential: iceServer.Password,
            }),
        );
    }
    KVS.iceServers = iceServers;
    kvsLog('ICE servers:', iceServers, `(IceServerList had ${list.length})`);

    const signalingClient = new KVSWebRTC.SignalingClient({
        channelARN,
        channelEndpoint: endpointsByProtocol.WSS,
        clientId: role === 'VIEWER' ? p.clientId : undefined,
        role: KVSWebRTC.Role[role],
        region: p.region,
        credentials: credentialsOf(p),
        systemClockOffset: kinesisVideoClient.config.systemClockOffset,
    });
    return { channelARN, endpointsByProtocol, iceServers, signalingClient };
}

// The transport the peer connection uses: the selected candidate pair's local and remote
// candidate types ('host', 'srflx', 'relay'), from getStats, into KVS.selectedPair.
function watchSelectedPair(pc) {
    const timer = setInterval(async () => {
        if (pc.connectionState === 'closed') return clearInterval(timer);
        try {
            const stats = await pc.getStats();
            let pairId = null;
            stats.forEach(s => {
                if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
            });
            const pair = pairId && stats.get(pairId);
            if (!pair) return;
            const local = stats.get(pair.localCandidateId);
            const remote = stats.get(pair.remoteCandidateId);
            KVS.selectedPair = {
                local: local && local.candidateType,
                remote: remote && remote.candidateType,
                bytesReceived: pair.bytesReceived,
                bytesSent: pair.bytesSent,
            };
        } catch (e) {
            kvsLog('getStats:', e);
        }
    }, 500);
}

function describePcState(pc, who) {
    pc.addEventListener('connectionstatechange', () => kvsLog(`PeerConnection ${who}: connectionState`, pc.connectionState));
    pc.addEventListener('iceconnectionstatechange', () => kvsLog(`PeerConnection ${who}: iceConnectionState`, pc.iceConnectionState));
}
