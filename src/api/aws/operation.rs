//! The `operations!` macro that turns the route table (invoked once, in `api/mod.rs`) into the
//! [`Operation`](crate::api::Operation) enum and everything keyed by it, plus [`AuthKind`].
//!
//! One line of the table binds an operation's name (for spans, metrics and key policies), its
//! case-sensitive path, how its requests are authenticated, the error code of a refused key
//! policy, and its handler. From that line the macro derives the path lookup the request
//! context uses to resolve a request's operation once ([`Operation::from_path`]), the router's
//! route for the path ([`Operation::routes`]), and the input check the fuzz targets run for every
//! operation ([`Operation::check_input`]). This module must not contain handler logic.
//!
//! [`Operation`]: crate::api::Operation
//! [`Operation::from_path`]: crate::api::Operation::from_path
//! [`Operation::routes`]: crate::api::Operation::routes
//! [`Operation::check_input`]: crate::api::Operation::check_input

/// Expands the route table; see the module documentation.
macro_rules! operations {
    ($($variant:ident => $path:literal, $auth:ident, $denied:ident, $handler:path;)*) => {
        /// An operation served by this server: one line of the route table in `api/mod.rs`.
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
            pub fn auth(self) -> $crate::api::aws::AuthKind {
                match self {
                    $(Operation::$variant => $crate::api::aws::AuthKind::$auth,)*
                }
            }

            /// The error code for a caller whose key policy does not allow the request.
            pub fn denied_code(self) -> $crate::api::aws::AwsErrorCode {
                match self {
                    $(Operation::$variant => $crate::api::aws::AwsErrorCode::$denied,)*
                }
            }

            /// The operation served at `path`, if any.
            pub fn from_path(path: &str) -> Option<Operation> {
                match path {
                    $($path => Some(Operation::$variant),)*
                    _ => None,
                }
            }

            /// The router of every operation: each path bound to its handler.
            pub fn routes() -> ::axum::Router<$crate::api::AppState> {
                ::axum::Router::new()
                    $(.route($path, $crate::api::aws::call::route($handler)))*
            }

            /// Deserialises `body` as this operation's input (in its JSON member form) and
            /// validates it, with no I/O: what the request would be refused with before its
            /// handler runs, if anything. Used by the fuzz targets.
            pub fn check_input(self, body: &[u8]) -> Result<(), $crate::api::aws::AwsError> {
                match self {
                    $(Operation::$variant => $crate::api::aws::call::check_input($handler, body),)*
                }
            }
        }

        impl ::std::fmt::Display for Operation {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use operations;

/// How an operation's requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// SigV4 over a buffered JSON body (payload hash = SHA-256 of the body).
    SigV4Json,
    /// SigV4 over a streaming body: the payload hash is that of the empty string (what the KVS
    /// producers sign) or `UNSIGNED-PAYLOAD`; the body is not buffered.
    SigV4Streaming,
}
