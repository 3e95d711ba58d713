// VIEWER: receive-only RTCPeerConnection; sends the SDP offer when the signaling
// channel opens, applies the master's SDP answer, trickle ICE both ways
// (examples/viewer.js of the KVS WebRTC SDK). With storageViewer=1 it joins the channel's
// storage session instead (examples/joinStorageSessionAsViewer.js: JoinStorageSessionAsViewer on
// the WEBRTC endpoint), answers the offer openkvs then sends it, and sends its microphone.
//
// window.__kvs also gets: firstFrameMs (performance.now() at the first rendered
// remote frame = ms since this page's navigation started), firstFrameCurrentTime,
// currentTime, videoWidth/videoHeight, frames, connectionState.
'use strict';

const viewer = { signalingClient: null, peerConnection: null, remoteStream: null };
window.__viewer = viewer;

function watchRemoteVideo(remoteView) {
    KVS.frames = 0;
    KVS.firstFrameMs = null;
    const first = how => {
        if (KVS.firstFrameMs !== null) return;
        KVS.firstFrameMs = performance.now();
        KVS.firstFrameCurrentTime = remoteView.currentTime;
        kvsLog(`first remote frame (${how}) at +${Math.round(KVS.firstFrameMs)}ms, size ${remoteView.videoWidth}x${remoteView.videoHeight}`);
        setPhase('playing');
    };
    const onFrame = () => {
        KVS.frames++;
        if (remoteView.videoWidth > 0) first('requestVideoFrameCallback');
        remoteView.requestVideoFrameCallback(onFrame);
    };
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) remoteView.requestVideoFrameCallback(onFrame);
    for (const ev of ['loadedmetadata', 'loadeddata', 'playing', 'resize']) {
        remoteView.addEventListener(ev, () => kvsLog(`video:${ev} ${remoteView.videoWidth}x${remoteView.videoHeight} t=${remoteView.currentTime.toFixed(3)}`));
    }
    remoteView.addEventListener('error', () => kvsError('video element error', remoteView.error && remoteView.error.message));
    setInterval(() => {
        KVS.currentTime = remoteView.currentTime;
        KVS.videoWidth = remoteView.videoWidth;
        KVS.videoHeight = remoteView.videoHeight;
        // Fallback when requestVideoFrameCallback is missing.
        if (remoteView.videoWidth > 0 && remoteView.currentTime > 0) first('videoWidth>0');
    }, 50);
}

async function startViewer() {
    KVS.role = 'VIEWER';
    const p = readParams();
    KVS.clientId = p.clientId;
    kvsLog('Client id is:', p.clientId);
    const remoteView = document.getElementById('remote-view');

    if (p.dryRun) {
        setPhase('dryrun');
        const ok = await dryRun(p, 'VIEWER');
        return setPhase(ok ? 'dryrun-done' : 'failed');
    }
    if (!p.endpoint || !p.channelName) {
        kvsError('the page needs ?endpoint=https://HOST:PORT&channel=NAME[&clientId=ID]');
        return setPhase('failed');
    }
    watchRemoteVideo(remoteView);

    const { iceServers, signalingClient } = await setUpChannel(p, 'VIEWER');
    viewer.signalingClient = signalingClient;

    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: p.relay ? 'relay' : 'all' });
    viewer.peerConnection = pc;
    describePcState(pc, 'to MASTER');
    watchSelectedPair(pc);
    pc.addEventListener('connectionstatechange', () => (KVS.connectionState = pc.connectionState));

    signalingClient.on('open', async () => {
        try {
            KVS.signalingOpen = true;
            kvsLog('Connected to signaling service');
            if (p.storageViewer) {
                setPhase('joining-storage-session');
                await joinStorageSessionAsViewer(p);
                return setPhase('waiting-for-offer');
            }
            // Receive-only, like the sample with "send video/audio" unticked
            // (it passes the legacy offerToReceiveAudio/Video to createOffer).
            pc.addTransceiver('video', { direction: 'recvonly' });
            pc.addTransceiver('audio', { direction: 'recvonly' });
            kvsLog('Creating SDP offer');
            await pc.setLocalDescription(await pc.createOffer());
            kvsLog('Sending SDP offer');
            setPhase('offer-sent');
            signalingClient.sendSdpOffer(pc.localDescription);
        } catch (e) {
            kvsError('creating/sending the SDP offer:', e);
        }
    });

    let remoteSet;
    const remoteSetP = new Promise(r => (remoteSet = r));
    // The storage session's offer (storageViewer=1): openkvs speaks to this viewer as its master.
    signalingClient.on('sdpOffer', async offer => {
        try {
            kvsLog('Received SDP offer');
            setPhase('offer-received');
            await pc.setRemoteDescription(offer);
            remoteSet();
            if (p.sendAudio) {
                const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
                mic.getTracks().forEach(track => pc.addTrack(track, mic));
                KVS.sendingAudio = true;
            }
            await pc.setLocalDescription(await pc.createAnswer());
            kvsLog('Sending SDP answer');
            signalingClient.sendSdpAnswer(pc.localDescription);
        } catch (e) {
            kvsError('answering the storage session offer:', e);
        }
    });
    signalingClient.on('sdpAnswer', async answer => {
        try {
            kvsLog('Received SDP answer');
            setPhase('answer-received');
            await pc.setRemoteDescription(answer);
            remoteSet();
        } catch (e) {
            kvsError('setRemoteDescription(answer):', e);
        }
    });

    signalingClient.on('iceCandidate', candidate => {
        kvsLog('Received ICE candidate');
        remoteSetP.then(() => pc.addIceCandidate(candidate)).catch(e => kvsError('addIceCandidate:', e));
    });

    signalingClient.on('statusResponse', statusResponse => {
        if (!statusResponse.success) kvsError('Received response from Signaling:', statusResponse);
    });
    signalingClient.on('close', () => {
        KVS.signalingOpen = false;
        kvsLog('Disconnected from signaling channel');
    });
    signalingClient.on('error', error => kvsError('Signaling client error:', (error && error.message) || error.type || String(error)));

    pc.addEventListener('icecandidate', ({ candidate }) => {
        if (candidate && candidate.candidate) {
            kvsLog('Sending ICE candidate', candidate.candidate.split(' ').slice(4, 8).join(' '));
            signalingClient.sendIceCandidate(candidate);
        } else if (!candidate) {
            kvsLog('All ICE candidates have been generated');
        }
    });

    pc.addEventListener('track', event => {
        kvsLog('Received', event.track.kind, 'track in stream', (event.streams[0] && event.streams[0].id) || '?');
        if (remoteView.srcObject) return;
        viewer.remoteStream = event.streams[0];
        remoteView.srcObject = viewer.remoteStream;
        const pl = remoteView.play();
        if (pl && pl.catch) pl.catch(e => kvsLog('video.play() rejected:', e.message));
    });

    setPhase('connecting-signaling');
    kvsLog('Starting viewer connection');
    signalingClient.open();
}

// examples/joinStorageSessionAsViewer.js with the AWS SDK v3: the channel's WEBRTC endpoint, then
// JoinStorageSessionAsViewer with this viewer's client id.
async function joinStorageSessionAsViewer(p) {
    const clientArgs = { region: p.region, credentials: credentialsOf(p) };
    const kinesisVideoClient = new AWS.KinesisVideo.KinesisVideoClient({ ...clientArgs, endpoint: p.endpoint });
    const endpoints = await kinesisVideoClient.send(
        new AWS.KinesisVideo.GetSignalingChannelEndpointCommand({
            ChannelARN: KVS.channelARN,
            SingleMasterChannelEndpointConfiguration: { Protocols: ['WEBRTC'], Role: 'VIEWER' },
        }),
    );
    const webrtcEndpoint = endpoints.ResourceEndpointList.find(e => e.Protocol === 'WEBRTC').ResourceEndpoint;
    const storageClient = new AWS.KinesisVideoWebRTCStorage.KinesisVideoWebRTCStorageClient({ ...clientArgs, endpoint: webrtcEndpoint });
    await storageClient.send(
        new AWS.KinesisVideoWebRTCStorage.JoinStorageSessionAsViewerCommand({ channelArn: KVS.channelARN, clientId: p.clientId }),
    );
    KVS.storageViewerJoined = true;
    kvsLog('JoinStorageSessionAsViewer succeeded');
}

window.__stop = () => {
    setPhase('stopped');
    if (viewer.signalingClient) viewer.signalingClient.close();
    if (viewer.peerConnection) viewer.peerConnection.close();
};

startViewer().catch(e => {
    kvsError('Encountered error starting:', e);
    setPhase('failed');
});
