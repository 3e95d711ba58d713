//! The HTTP edge: the ONLY layer that knows axum, HTTP headers, JSON casing and AWS error codes.
//!
//! This file is the route table: the operation families and their handler files, and
//! [`operations!`](aws::operation) binding each operation's path to its [`Operation`], its
//! authentication and its handler. A new operation is its handler file (input and output shapes,
//! validation, handler) plus one `pub mod` line and one table line here.
//!
//! - [`aws`]: the error table, the route table's macro, the generic layer that reads, validates
//!   and answers typed inputs and outputs (`aws::call`), JSON and timestamps, the `NextToken` codec,
//!   the request context and the authentication layer.
//! - [`route`]: what a request is (operation, session resource, signaling socket, console, public
//!   endpoint), resolved once per request; any other path is refused.
//! - [`streams`], [`channels`], [`tagging`]: resolving StreamName/StreamARN, ChannelName/ChannelARN
//!   and tagged ResourceARN inputs, and shaping `StreamInfo` / `ChannelInfo`.
//! - [`edge_configurations`], [`secret_inputs`]: the shapes the edge operations share, and the
//!   members and lookups the secretsmanager operations share.
//! - [`control`], [`media`], [`archived`], [`signaling`], [`webrtc_storage`], [`analysis`],
//!   [`webrtc`], [`edge`], [`secrets`]: the operation families, one file per operation.
//! - [`session_resources`]: the HLS/DASH session resources (`/hls/v1/…`, `/dash/v1/…`), authorized
//!   by their SessionToken instead of SigV4; the WHEP resources (`/whep/v1/…`) are
//!   [`webrtc::whep_resource`], authorized the same way.
//! - [`cors`]: CORS headers and preflights for browsers.
//! - [`metrics`]: `/metrics` (Prometheus), `/health`, `/ready`, and the layer that counts requests,
//!   latency and response bytes per operation.
//! - [`console`]: the web console (embedded page at `/`, sign-in sessions, and the session-cookie
//!   authorization the authentication layer accepts for the console's own calls).
//! - [`listener`]: where a request came in, and the base URLs clients are given.
//!
//! [`router`] assembles them with the middleware stack (outermost first): CORS → request context
//! (route, id, span, error log; unknown paths refused) → metrics → authentication (by route; fails
//! closed) → the handler. Lower layers receive domain values, never HTTP types.

/// The `kinesisvideo` control plane: streams, signaling channels, tags, and the image-generation,
/// notification, storage and mapped-resource configurations.
pub mod control {
    pub mod create_signaling_channel;
    pub mod create_stream;
    pub mod delete_signaling_channel;
    pub mod delete_stream;
    pub mod describe_image_generation_configuration;
    pub mod describe_mapped_resource_configuration;
    pub mod describe_media_storage_configuration;
    pub mod describe_notification_configuration;
    pub mod describe_signaling_channel;
    pub mod describe_stream;
    pub mod describe_stream_storage_configuration;
    pub mod get_data_endpoint;
    pub mod get_signaling_channel_endpoint;
    pub mod list_signaling_channels;
    pub mod list_streams;
    pub mod list_tags_for_resource;
    pub mod list_tags_for_stream;
    pub mod tag_resource;
    pub mod tag_stream;
    pub mod untag_resource;
    pub mod untag_stream;
    pub mod update_data_retention;
    pub mod update_image_generation_configuration;
    pub mod update_media_storage_configuration;
    pub mod update_notification_configuration;
    pub mod update_signaling_channel;
    pub mod update_stream;
    pub mod update_stream_storage_configuration;
}

/// The `kinesis-video-media` data plane: PutMedia (ingest) and GetMedia.
pub mod media {
    pub mod get_media;
    pub mod put_media;
}

/// The `kinesis-video-archived-media` data plane: ListFragments, GetMediaForFragmentList,
/// GetHLSStreamingSessionURL, GetDASHStreamingSessionURL, GetClip and GetImages (the HLS/DASH
/// session resources themselves are [`session_resources`](super::session_resources)).
pub mod archived {
    pub mod get_clip;
    pub mod get_dash_streaming_session_url;
    pub mod get_hls_streaming_session_url;
    pub mod get_images;
    pub mod get_media_for_fragment_list;
    pub mod list_fragments;
}

/// The `kinesis-video-signaling` data plane: GetIceServerConfig and SendAlexaOfferToMaster, and
/// the signaling WebSocket (`GET /` with a presigned URL, not an operation of the table). Routing
/// and message rules live in `crate::signaling`; this layer turns requests and frames into calls
/// to it.
pub mod signaling {
    pub mod get_ice_server_config;
    pub mod send_alexa_offer_to_master;
    pub mod websocket;
}

/// The `kinesis-video-webrtc-storage` data plane (rest-json, camelCase members): the master of a
/// channel with an ENABLED media storage configuration asks openkvs to join its WebRTC session as
/// the storage peer, and viewers join that session to watch it. The WebRTC work itself is
/// `crate::webrtc`.
pub mod webrtc_storage {
    pub mod join_storage_session;
    pub mod join_storage_session_as_viewer;
}

/// openkvs's own analysis API (outside the AWS surface, documented in
/// `docs/openapi/analysis.yaml`): analyzer events per stream and time range, worker status and
/// lag, pausing and resuming a worker, and a stream's ingest health. Same conventions as the AWS
/// operations: `POST` with a JSON body, SigV4-signed (service `kinesisvideo`), PascalCase members,
/// AWS-shaped errors, key policies by operation name and stream glob.
pub mod analysis {
    pub mod describe_ingest_health;
    pub mod describe_workers;
    pub mod list_analyzer_events;
    pub mod pause_worker;
    pub mod resume_worker;
}

/// The KVS Edge Agent operations of `kinesisvideo` (StartEdgeConfigurationUpdate,
/// DescribeEdgeConfiguration, ListEdgeAgentConfigurations, DeleteEdgeConfiguration) and openkvs's
/// own PutEdgeAgentStatus, by which an `openkvs edge` agent reports back. The configurations live
/// in the archive's edge aggregate; their shared output shapes are in
/// [`edge_configurations`](super::edge_configurations); the agent itself is `crate::edge`.
pub mod edge {
    pub mod delete_edge_configuration;
    pub mod describe_edge_configuration;
    pub mod list_edge_agent_configurations;
    pub mod put_edge_agent_status;
    pub mod start_edge_configuration_update;
}

/// The Secrets Manager subset the edge agent's camera URIs need, in the AWS JSON 1.1 protocol
/// boto3's and the SDKs' `secretsmanager` clients speak: `POST /` with
/// `X-Amz-Target: secretsmanager.<Operation>`, signed for service `secretsmanager` (the `targets`
/// section of the table). Served: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
/// DeleteSecret; one version per secret (`AWSCURRENT`); no rotation, replication, resource
/// policies, tags or ListSecrets. Secret values are never logged and are returned only by
/// GetSecretValue. The members they share are in [`secret_inputs`](super::secret_inputs).
pub mod secrets {
    pub mod create_secret;
    pub mod delete_secret;
    pub mod describe_secret;
    pub mod get_secret_value;
    pub mod put_secret_value;
}

pub mod aws;
pub mod channels;
pub mod console;
pub mod cors;
pub mod edge_configurations;
pub mod listener;
pub mod metrics;
pub mod route;
pub mod secret_inputs;
pub mod session_resources;
pub mod streams;
pub mod tagging;
pub mod webrtc;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;

pub use listener::{ListenerInfo, RemoteAddr, public_base_url, without_default_port};

use crate::archive::Archive;
use crate::auth::KeyStore;
use crate::auth::sigv4::Verifier;
use crate::clock::Clock;
use crate::ingest::Ingest;
use crate::playback::Playback;

/// Settings the handlers need from the configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Account id used in ARNs.
    pub account_id: String,
    /// Configured public base URL (GetDataEndpoint, GetSignalingChannelEndpoint), if any.
    pub public_url: Option<String>,
    /// The HTTPS listener (its real bound address, known after binding), when TLS is configured:
    /// GetSignalingChannelEndpoint points WebRTC clients at it (they require `wss://`).
    pub tls_listener: Option<ListenerInfo>,
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Stored fragments and their metadata (streams, channels, configurations): the archive.
    pub archive: Arc<Archive>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Access keys and policies.
    pub keys: Arc<KeyStore>,
    /// The SigV4 verifier.
    pub verifier: Arc<Verifier>,
    /// Settings from the configuration.
    pub settings: Arc<ApiSettings>,
    /// PutMedia ingest (sessions, live feed).
    pub ingest: Arc<Ingest>,
    /// GetMedia and friends.
    pub playback: Arc<Playback>,
    /// WebRTC signaling connections.
    pub signaling: Arc<crate::signaling::SignalingHub>,
    /// Analysis workers.
    pub workers: Arc<crate::workers::Workers>,
    /// The web console's sign-in sessions.
    pub console_sessions: Arc<crate::auth::console_session::ConsoleSessions>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The WebRTC media endpoint (WHEP, storage sessions); `None` when disabled.
    pub webrtc: Option<Arc<crate::webrtc::WebRtc>>,
    /// openkvs's own TURN relay; `None` when disabled.
    pub turn: Option<Arc<crate::turn_relay::TurnRelay>>,
    /// This node's cluster membership; `None` on a single node.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

aws::operation::operations! {
  paths {
    // kinesisvideo control plane
    CreateStream => "/createStream", SigV4Json, NotAuthorizedException, control::create_stream::handle;
    DescribeStream => "/describeStream", SigV4Json, NotAuthorizedException, control::describe_stream::handle;
    ListStreams => "/listStreams", SigV4Json, NotAuthorizedException, control::list_streams::handle;
    DeleteStream => "/deleteStream", SigV4Json, NotAuthorizedException, control::delete_stream::handle;
    UpdateStream => "/updateStream", SigV4Json, NotAuthorizedException, control::update_stream::handle;
    UpdateDataRetention => "/updateDataRetention", SigV4Json, NotAuthorizedException,
        control::update_data_retention::handle;
    GetDataEndpoint => "/getDataEndpoint", SigV4Json, NotAuthorizedException,
        control::get_data_endpoint::handle;
    TagStream => "/tagStream", SigV4Json, NotAuthorizedException, control::tag_stream::handle;
    UntagStream => "/untagStream", SigV4Json, NotAuthorizedException, control::untag_stream::handle;
    ListTagsForStream => "/listTagsForStream", SigV4Json, NotAuthorizedException,
        control::list_tags_for_stream::handle;
    TagResource => "/TagResource", SigV4Json, AccessDeniedException, control::tag_resource::handle;
    UntagResource => "/UntagResource", SigV4Json, AccessDeniedException, control::untag_resource::handle;
    ListTagsForResource => "/ListTagsForResource", SigV4Json, AccessDeniedException,
        control::list_tags_for_resource::handle;
    DescribeStreamStorageConfiguration => "/describeStreamStorageConfiguration",
        SigV4Json, AccessDeniedException,
        control::describe_stream_storage_configuration::handle;
    UpdateStreamStorageConfiguration => "/updateStreamStorageConfiguration", SigV4Json, AccessDeniedException,
        control::update_stream_storage_configuration::handle;
    DescribeMappedResourceConfiguration => "/describeMappedResourceConfiguration",
        SigV4Json, AccessDeniedException,
        control::describe_mapped_resource_configuration::handle;
    CreateSignalingChannel => "/createSignalingChannel", SigV4Json, AccessDeniedException,
        control::create_signaling_channel::handle;
    DescribeSignalingChannel => "/describeSignalingChannel", SigV4Json, AccessDeniedException,
        control::describe_signaling_channel::handle;
    ListSignalingChannels => "/listSignalingChannels", SigV4Json, AccessDeniedException,
        control::list_signaling_channels::handle;
    UpdateSignalingChannel => "/updateSignalingChannel", SigV4Json, AccessDeniedException,
        control::update_signaling_channel::handle;
    DeleteSignalingChannel => "/deleteSignalingChannel", SigV4Json, AccessDeniedException,
        control::delete_signaling_channel::handle;
    GetSignalingChannelEndpoint => "/getSignalingChannelEndpoint", SigV4Json, AccessDeniedException,
        control::get_signaling_channel_endpoint::handle;
    DescribeImageGenerationConfiguration => "/describeImageGenerationConfiguration",
        SigV4Json, AccessDeniedException,
        control::describe_image_generation_configuration::handle;
    UpdateImageGenerationConfiguration => "/updateImageGenerationConfiguration",
        SigV4Json, AccessDeniedException,
        control::update_image_generation_configuration::handle;
    DescribeNotificationConfiguration => "/describeNotificationConfiguration",
        SigV4Json, AccessDeniedException,
        control::describe_notification_configuration::handle;
    UpdateNotificationConfiguration => "/updateNotificationConfiguration", SigV4Json, AccessDeniedException,
        control::update_notification_configuration::handle;
    // kinesisvideo edge agent configurations
    StartEdgeConfigurationUpdate => "/startEdgeConfigurationUpdate", SigV4Json, AccessDeniedException,
        edge::start_edge_configuration_update::handle;
    DescribeEdgeConfiguration => "/describeEdgeConfiguration", SigV4Json, AccessDeniedException,
        edge::describe_edge_configuration::handle;
    ListEdgeAgentConfigurations => "/listEdgeAgentConfigurations", SigV4Json, NotAuthorizedException,
        edge::list_edge_agent_configurations::handle;
    DeleteEdgeConfiguration => "/deleteEdgeConfiguration", SigV4Json, AccessDeniedException,
        edge::delete_edge_configuration::handle;
    UpdateMediaStorageConfiguration => "/updateMediaStorageConfiguration", SigV4Json, AccessDeniedException,
        control::update_media_storage_configuration::handle;
    DescribeMediaStorageConfiguration => "/describeMediaStorageConfiguration",
        SigV4Json, AccessDeniedException,
        control::describe_media_storage_configuration::handle;
    // kinesis-video-media
    PutMedia => "/putMedia", SigV4Streaming, NotAuthorizedException, media::put_media::handle;
    GetMedia => "/getMedia", SigV4Json, NotAuthorizedException, media::get_media::handle;
    // kinesis-video-archived-media
    ListFragments => "/listFragments", SigV4Json, NotAuthorizedException, archived::list_fragments::handle;
    GetMediaForFragmentList => "/getMediaForFragmentList", SigV4Json, NotAuthorizedException,
        archived::get_media_for_fragment_list::handle;
    GetHLSStreamingSessionURL => "/getHLSStreamingSessionURL", SigV4Json, NotAuthorizedException,
        archived::get_hls_streaming_session_url::handle;
    GetDASHStreamingSessionURL => "/getDASHStreamingSessionURL", SigV4Json, NotAuthorizedException,
        archived::get_dash_streaming_session_url::handle;
    GetClip => "/getClip", SigV4Json, NotAuthorizedException, archived::get_clip::handle;
    GetImages => "/getImages", SigV4Json, NotAuthorizedException, archived::get_images::handle;
    // kinesis-video-signaling (the signaling WebSocket itself is `GET /`, authorized by a
    // presigned URL as ConnectAsMaster / ConnectAsViewer: see `route` and `signaling::websocket`)
    GetIceServerConfig => "/v1/get-ice-server-config", SigV4Json, NotAuthorizedException,
        signaling::get_ice_server_config::handle;
    SendAlexaOfferToMaster => "/v1/send-alexa-offer-to-master", SigV4Json, NotAuthorizedException,
        signaling::send_alexa_offer_to_master::handle;
    // kinesis-video-webrtc-storage
    JoinStorageSession => "/joinStorageSession", SigV4Json, AccessDeniedException,
        webrtc_storage::join_storage_session::handle;
    JoinStorageSessionAsViewer => "/joinStorageSessionAsViewer", SigV4Json, AccessDeniedException,
        webrtc_storage::join_storage_session_as_viewer::handle;
    // openkvs's own analysis API (docs/openapi/analysis.yaml)
    ListAnalyzerEvents => "/openkvs/listAnalyzerEvents", SigV4Json, AccessDeniedException,
        analysis::list_analyzer_events::handle;
    DescribeWorkers => "/openkvs/describeWorkers", SigV4Json, AccessDeniedException,
        analysis::describe_workers::handle;
    PauseWorker => "/openkvs/pauseWorker", SigV4Json, AccessDeniedException, analysis::pause_worker::handle;
    ResumeWorker => "/openkvs/resumeWorker", SigV4Json, AccessDeniedException,
        analysis::resume_worker::handle;
    DescribeIngestHealth => "/openkvs/describeIngestHealth", SigV4Json, AccessDeniedException,
        analysis::describe_ingest_health::handle;
    // openkvs's own edge-agent status report (what AWS's Edge Agent sends through IoT)
    PutEdgeAgentStatus => "/openkvs/putEdgeAgentStatus", SigV4Json, AccessDeniedException,
        edge::put_edge_agent_status::handle;
    // openkvs's WebRTC live view (docs/openapi/webrtc.yaml)
    GetWHEPStreamingSessionURL => "/openkvs/getWHEPStreamingSessionURL", SigV4Json, NotAuthorizedException,
        webrtc::get_whep_streaming_session_url::handle;
  }
  targets {
    // secretsmanager, the subset the edge agent's camera URIs need (AWS JSON 1.1 on `POST /`)
    CreateSecret => "secretsmanager.CreateSecret", SigV4Json11Secrets, AccessDeniedException,
        secrets::create_secret::handle;
    PutSecretValue => "secretsmanager.PutSecretValue", SigV4Json11Secrets, AccessDeniedException,
        secrets::put_secret_value::handle;
    GetSecretValue => "secretsmanager.GetSecretValue", SigV4Json11Secrets, AccessDeniedException,
        secrets::get_secret_value::handle;
    DescribeSecret => "secretsmanager.DescribeSecret", SigV4Json11Secrets, AccessDeniedException,
        secrets::describe_secret::handle;
    DeleteSecret => "secretsmanager.DeleteSecret", SigV4Json11Secrets, AccessDeniedException,
        secrets::delete_secret::handle;
  }
}

/// The complete application router: the operations of the table, then the routes of the other
/// kinds of [`route::Route`], under the middleware stack.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(Operation::routes())
        .merge(session_resources::router())
        .merge(webrtc::whep_resource::router())
        .merge(console::router())
        .merge(metrics::routes())
        .route("/", axum::routing::get(serve_root).post(Operation::serve_target))
        .fallback(aws::middleware::unknown_operation)
        .layer(from_fn_with_state(state.clone(), aws::sigv4_layer::authenticate))
        .layer(from_fn_with_state(state.clone(), metrics::record_request))
        .layer(from_fn(aws::middleware::request_context))
        .layer(from_fn(cors::cors))
        .with_state(state)
}

/// `GET /` is shared: the signaling WebSocket (as the KVS WebRTC SDKs open it, with
/// `X-Amz-ChannelARN` in the query) or the web console's page, as the request context resolved it.
async fn serve_root(State(state): State<AppState>, req: Request) -> Response {
    if req.extensions().get::<route::Route>() == Some(&route::Route::SignalingSocket) {
        signaling::websocket::handle(State(state), req).await
    } else {
        let headers = req.headers().clone();
        console::assets::index(State(state), headers).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_table_binds_each_path_to_one_operation() {
        let addresses: BTreeSet<(&str, Option<&str>)> =
            Operation::ALL.iter().map(|op| (op.path(), op.target())).collect();
        assert_eq!(addresses.len(), Operation::ALL.len(), "paths and targets are unique");
        for op in Operation::ALL {
            match op.target() {
                None => assert_eq!(Operation::from_path(op.path()), Some(*op)),
                Some(target) => {
                    assert_eq!(op.path(), "/");
                    assert_eq!(Operation::from_target(target), Some(*op));
                    assert_eq!(Operation::from_path(target), None);
                }
            }
        }
        assert_eq!(Operation::from_path("/tagResource"), None, "resource tagging paths are capitalised");
    }
}
