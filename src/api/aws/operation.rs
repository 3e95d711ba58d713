//! The [`Operation`] enum: every AWS operation this server routes, with its wire path.
//!
//! One table (the `operations!` invocation) gives each operation its name (for routing, spans,
//! metrics and key policies), its path and how its request is authenticated. Handlers live one per
//! file in `api/<family>/`; each registers its route with [`Operation::path`]. This module must not
//! contain handler logic.

macro_rules! operations {
    ($($variant:ident => $path:literal, $auth:ident, $denied:ident;)*) => {
        /// An AWS operation served by this server.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(
                #[doc = concat!("`POST ", $path, "`")]
                $variant,
            )*
        }

        impl Operation {
            /// Every operation, in table order.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)*];

            /// The AWS operation name, e.g. `DescribeStream`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$variant => stringify!($variant),)*
                }
            }

            /// The request path, e.g. `/describeStream` (case-sensitive).
            pub fn path(self) -> &'static str {
                match self {
                    $(Operation::$variant => $path,)*
                }
            }

            /// How requests of this operation are authenticated.
            pub fn auth(self) -> AuthKind {
                match self {
                    $(Operation::$variant => AuthKind::$auth,)*
                }
            }

            /// The error code for a caller whose key policy does not allow the request.
            pub fn denied_code(self) -> super::AwsErrorCode {
                match self {
                    $(Operation::$variant => super::AwsErrorCode::$denied,)*
                }
            }
        }
    };
}

/// How an operation's requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// SigV4 over a buffered JSON body (payload hash = SHA-256 of the body).
    SigV4Json,
    /// SigV4 over a streaming body: the payload hash is that of the empty string (what the KVS
    /// producers sign) or `UNSIGNED-PAYLOAD`; the body is not buffered.
    SigV4Streaming,
}

operations! {
    // kinesisvideo control plane
    CreateStream => "/createStream", SigV4Json, NotAuthorizedException;
    DescribeStream => "/describeStream", SigV4Json, NotAuthorizedException;
    ListStreams => "/listStreams", SigV4Json, NotAuthorizedException;
    DeleteStream => "/deleteStream", SigV4Json, NotAuthorizedException;
    UpdateStream => "/updateStream", SigV4Json, NotAuthorizedException;
    UpdateDataRetention => "/updateDataRetention", SigV4Json, NotAuthorizedException;
    GetDataEndpoint => "/getDataEndpoint", SigV4Json, NotAuthorizedException;
    TagStream => "/tagStream", SigV4Json, NotAuthorizedException;
    UntagStream => "/untagStream", SigV4Json, NotAuthorizedException;
    ListTagsForStream => "/listTagsForStream", SigV4Json, NotAuthorizedException;
    TagResource => "/TagResource", SigV4Json, AccessDeniedException;
    UntagResource => "/UntagResource", SigV4Json, AccessDeniedException;
    ListTagsForResource => "/ListTagsForResource", SigV4Json, AccessDeniedException;
    DescribeStreamStorageConfiguration => "/describeStreamStorageConfiguration", SigV4Json, AccessDeniedException;
    UpdateStreamStorageConfiguration => "/updateStreamStorageConfiguration", SigV4Json, AccessDeniedException;
    DescribeMappedResourceConfiguration => "/describeMappedResourceConfiguration", SigV4Json, AccessDeniedException;
    CreateSignalingChannel => "/createSignalingChannel", SigV4Json, AccessDeniedException;
    DescribeSignalingChannel => "/describeSignalingChannel", SigV4Json, AccessDeniedException;
    ListSignalingChannels => "/listSignalingChannels", SigV4Json, AccessDeniedException;
    UpdateSignalingChannel => "/updateSignalingChannel", SigV4Json, AccessDeniedException;
    DeleteSignalingChannel => "/deleteSignalingChannel", SigV4Json, AccessDeniedException;
    GetSignalingChannelEndpoint => "/getSignalingChannelEndpoint", SigV4Json, AccessDeniedException;
    DescribeImageGenerationConfiguration => "/describeImageGenerationConfiguration", SigV4Json, AccessDeniedException;
    UpdateImageGenerationConfiguration => "/updateImageGenerationConfiguration", SigV4Json, AccessDeniedException;
    DescribeNotificationConfiguration => "/describeNotificationConfiguration", SigV4Json, AccessDeniedException;
    UpdateNotificationConfiguration => "/updateNotificationConfiguration", SigV4Json, AccessDeniedException;
    UpdateMediaStorageConfiguration => "/updateMediaStorageConfiguration", SigV4Json, AccessDeniedException;
    DescribeMediaStorageConfiguration => "/describeMediaStorageConfiguration", SigV4Json, AccessDeniedException;
    // kinesis-video-webrtc-storage (rest-json, camelCase members)
    JoinStorageSession => "/joinStorageSession", SigV4Json, AccessDeniedException;
    // kinesis-video-media
    PutMedia => "/putMedia", SigV4Streaming, NotAuthorizedException;
    GetMedia => "/getMedia", SigV4Json, NotAuthorizedException;
    // kinesis-video-archived-media
    ListFragments => "/listFragments", SigV4Json, NotAuthorizedException;
    GetMediaForFragmentList => "/getMediaForFragmentList", SigV4Json, NotAuthorizedException;
    GetHLSStreamingSessionURL => "/getHLSStreamingSessionURL", SigV4Json, NotAuthorizedException;
    GetDASHStreamingSessionURL => "/getDASHStreamingSessionURL", SigV4Json, NotAuthorizedException;
    GetClip => "/getClip", SigV4Json, NotAuthorizedException;
    GetImages => "/getImages", SigV4Json, NotAuthorizedException;
    // kinesis-video-signaling (the signaling WebSocket itself is `GET /`, authorized by a
    // presigned URL as ConnectAsMaster / ConnectAsViewer: see api::signaling)
    GetIceServerConfig => "/v1/get-ice-server-config", SigV4Json, NotAuthorizedException;
    SendAlexaOfferToMaster => "/v1/send-alexa-offer-to-master", SigV4Json, NotAuthorizedException;
    // openkvs's own analysis API (docs/openapi/analysis.yaml)
    ListAnalyzerEvents => "/openkvs/listAnalyzerEvents", SigV4Json, AccessDeniedException;
    DescribeWorkers => "/openkvs/describeWorkers", SigV4Json, AccessDeniedException;
    PauseWorker => "/openkvs/pauseWorker", SigV4Json, AccessDeniedException;
    ResumeWorker => "/openkvs/resumeWorker", SigV4Json, AccessDeniedException;
    DescribeIngestHealth => "/openkvs/describeIngestHealth", SigV4Json, AccessDeniedException;
    // openkvs's WebRTC extension (docs/openapi/webrtc.yaml)
    GetWHEPStreamingSessionURL => "/openkvs/getWHEPStreamingSessionURL", SigV4Json, NotAuthorizedException;
}

impl Operation {
    /// The operation served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Operation> {
        Operation::ALL.iter().copied().find(|op| op.path() == path)
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_path(op.path()), Some(*op));
        }
        assert_eq!(Operation::from_path("/tagResource"), None, "resource tagging paths are capitalised");
    }
}
