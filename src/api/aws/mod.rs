//! AWS wire conventions shared by every operation: the error table ([`AwsError`],
//! [`AwsErrorCode`]), the [`Operation`] enum, JSON extraction and timestamp encoding, the request-id
//! and logging middleware, and the SigV4 authentication layer. Only the API layer uses this module.

mod error;
mod json;
pub mod middleware;
mod operation;
pub mod sigv4_layer;

pub use error::{AwsError, AwsErrorCode, ErrorDetail};
pub use json::{
    AwsJson, EpochSeconds, MAX_JSON_BODY, epoch_seconds, millis_from_epoch_seconds, parse_json_body, required,
};
pub use operation::{AuthKind, Operation};
