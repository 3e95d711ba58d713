//! AWS wire conventions shared by every operation: the error table ([`AwsError`],
//! [`AwsErrorCode`]), the route table's macro ([`operation`]), the generic layer between the table
//! and typed handlers ([`call`]), JSON and timestamp encoding, the one `NextToken` codec
//! ([`page_token`]), the request-context middleware (with the lingering close of unread bodies, [`unread_body`]), and the authentication layer. Only the API
//! layer uses this module.

pub mod call;
mod error;
mod json;
pub mod middleware;
pub mod operation;
pub mod page_token;
pub mod sigv4_layer;
pub mod unread_body;

pub use call::{Call, Json11, OperationInput, OperationOutput, PayloadOutput, Valid};
pub use error::{AwsError, AwsErrorCode, ErrorDetail};
pub use json::{AwsJson, EpochSeconds, MAX_JSON_BODY, parse_json_body, timestamp_millis};
pub use operation::AuthKind;

pub use crate::api::Operation;
