// MASTER: fake camera -> one RTCPeerConnection per viewer, answering each SDP offer
// (examples/master.js + examples/answerer.js of the KVS WebRTC SDK, trickle ICE).
'use strict';

const master = { peerByClientId: {}, localStream: null, signalingClient: null };
window.__master = master;

async function startMaster() {
    KVS.role = 'MASTER';
    const p = readParams();
    const localView = document.getElementById('local-view');

    if (p.dryRun) {
        setPhase('dryrun');
        const ok = await dryRun(p, 'MASTER');
        if (!ok) return setPhase('failed');
    } else if (!p.endpoint || !p.channelName) {
        kvsError('the page needs ?endpoint=https://HOST:PORT&channel=NAME');
        return setPhase('failed');
    }

    // Get a stream from the (fake) webcam and display it in the local view.
    setPhase('getUserMedia');
    master.localStream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
        audio: p.sendAudio,
    });
    localView.srcObject = master.localStream;
    KVS.localTracks = master.localStream.getTracks().map(t => `${t.kind}:${t.label}:${t.readyState}`);
    kvsLog('local tracks', KVS.localTracks);
    if (p.dryRun) {
        await new Promise(r => (localView.readyState >= 2 ? r() : localView.addEventListener('loadeddata', r, { once: true })));
        KVS.localVideoSize = `${localView.videoWidth}x${localView.videoHeight}`;
        kvsLog('local video', KVS.localVideoSize);
        return setPhase('dryrun-done');
    }

    const { iceServers, signalingClient } = await setUpChannel(p, 'MASTER');
    master.signalingClient = signalingClient;

    signalingClient.on('open', () => {
        KVS.signalingOpen = true;
        KVS.signalingOpenAt = performance.now();
        kvsLog('Connected to signaling service');
        setPhase('waiting-for-viewers');
        if (p.storage) joinStorageSession(p).catch(e => kvsError('JoinStorageSession:', e));
    });

    signalingClient.on('sdpOffer', async (offer, remoteClientId) => {
        try {
            kvsLog('Received SDP offer from', remoteClientId || 'remote');
            KVS.offers = (KVS.offers || 0) + 1;
            const previous = master.peerByClientId[remoteClientId];
            if (previous && previous.pc.connectionState !== 'closed') {
                previous.pc.close();
                signalingClient.removeListener('iceCandidate', previous.onIce);
                kvsLog('Closed previous connection of', remoteClientId);
            }

            const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: p.relay ? 'relay' : 'all' });
            let remoteSet;
            const peer = { pc, onIce: null, remoteSet: new Promise(r => (remoteSet = r)) };
            master.peerByClientId[remoteClientId] = peer;
            describePcState(pc, remoteClientId);
            if (String(remoteClientId).startsWith('storage-')) {
                KVS.storagePeer = remoteClientId;
                pc.addEventListener('connectionstatechange', () => { KVS.storagePeerState = pc.connectionState; });
            }

            // All ICE candidates come through this one event; keep those for this viewer.
            peer.onIce = (candidate, fromClientId) => {
                if (fromClientId !== remoteClientId) return;
                kvsLog('Received ICE candidate from', fromClientId || 'remote');
                // The SDK emits candidates that came before the offer right after 'sdpOffer':
                // add them once the remote description is set.
                peer.remoteSet.then(() => pc.addIceCandidate(candidate)).catch(e => kvsError('addIceCandidate:', e));
            };
            signalingClient.on('iceCandidate', peer.onIce);

            pc.addEventListener('icecandidate', ({ candidate }) => {
                if (candidate && candidate.candidate) {
                    kvsLog('Sending ICE candidate to', remoteClientId, candidate.candidate.split(' ').slice(4, 8).join(' '));
                    signalingClient.sendIceCandidate(candidate, remoteClientId);
                } else if (!candidate) {
                    kvsLog('All ICE candidates have been generated for', remoteClientId);
                }
            });

            master.localStream.getTracks().forEach(track => pc.addTrack(track, master.localStream));
            await pc.setRemoteDescription(offer);
            remoteSet();
            await pc.setLocalDescription(await pc.createAnswer());
            kvsLog('Sending SDP answer to', remoteClientId);
            signalingClient.sendSdpAnswer(pc.localDescription, remoteClientId);
            KVS.answers = (KVS.answers || 0) + 1;
        } catch (e) {
            kvsError('handling SDP offer from', remoteClientId, e);
        }
    });

    signalingClient.on('statusResponse', statusResponse => {
        if (!statusResponse.success) kvsError('Received response from Signaling:', statusResponse);
    });
    signalingClient.on('close', () => {
        KVS.signalingOpen = false;
        kvsLog('Disconnected from signaling channel');
        if (KVS.phase !== 'stopped') setPhase('signaling-closed');
    });
    signalingClient.on('error', error => kvsError('Signaling client error', (error && error.message) || error.type || String(error)));

    setPhase('connecting-signaling');
    signalingClient.open();
}

// WebRTC ingestion, as the SDK's sample does it (examples/master.js, "ingest media"): the WEBRTC
// endpoint of the channel, then JoinStorageSession through the AWS SDK v3 client; the storage peer
// then sends this master an SDP offer like a viewer.
async function joinStorageSession(p) {
    const clientArgs = { region: p.region, credentials: credentialsOf(p) };
    const kinesisVideoClient = new AWS.KinesisVideo.KinesisVideoClient({ ...clientArgs, endpoint: p.endpoint });
    const endpoints = await kinesisVideoClient.send(
        new AWS.KinesisVideo.GetSignalingChannelEndpointCommand({
            ChannelARN: KVS.channelARN,
            SingleMasterChannelEndpointConfiguration: { Protocols: ['WEBRTC'], Role: 'MASTER' },
        }),
    );
    const webrtcEndpoint = endpoints.ResourceEndpointList.find(e => e.Protocol === 'WEBRTC').ResourceEndpoint;
    kvsLog('WEBRTC endpoint:', webrtcEndpoint);
    const storageClient = new AWS.KinesisVideoWebRTCStorage.KinesisVideoWebRTCStorageClient({ ...clientArgs, endpoint: webrtcEndpoint });
    KVS.storageJoinCalledAt = Date.now();
    await storageClient.send(new AWS.KinesisVideoWebRTCStorage.JoinStorageSessionCommand({ channelArn: KVS.channelARN }));
    KVS.storageJoined = true;
    kvsLog('JoinStorageSession succeeded');
}

window.__stop = () => {
    setPhase('stopped');
    if (master.signalingClient) master.signalingClient.close();
    Object.values(master.peerByClientId).forEach(p => p.pc.close());
    if (master.localStream) master.localStream.getTracks().forEach(t => t.stop());
};

startMaster().catch(e => {
    kvsError('Encountered error starting:', e);
    setPhase('failed');
});
