// esbuild entry for webrtc/dist/bundle.js (built by `npm run build:webrtc`).
//
// Gives the pages the same globals as the SDK's own sample page
// (amazon-kinesis-video-streams-webrtc-sdk-js/examples/index.html):
//   KVSWebRTC                  the KVS WebRTC SDK, its own published browser build
//                              (dist/kvs-webrtc.min.js, unmodified; it sets window.KVSWebRTC)
//   AWS.KinesisVideo           @aws-sdk/client-kinesis-video (v3)
//   AWS.KinesisVideoSignaling  @aws-sdk/client-kinesis-video-signaling (v3)
//   AWS.KinesisVideoWebRTCStorage  @aws-sdk/client-kinesis-video-webrtc-storage (v3)
import 'amazon-kinesis-video-streams-webrtc/dist/kvs-webrtc.min.js';
import * as KinesisVideo from '@aws-sdk/client-kinesis-video';
import * as KinesisVideoSignaling from '@aws-sdk/client-kinesis-video-signaling';
import * as KinesisVideoWebRTCStorage from '@aws-sdk/client-kinesis-video-webrtc-storage';

window.AWS = Object.assign(window.AWS || {}, { KinesisVideo, KinesisVideoSignaling, KinesisVideoWebRTCStorage });
