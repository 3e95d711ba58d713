//! The `operations!` macro that turns the route table (invoked once, in `api/mod.rs`) into the
//! [`Operation`](crate::api::Operation) enum and everything keyed by it, plus [`AuthKind`].
//!
//! One line of the table binds an operation's name (for spans, metrics and key policies), its
//! case-sensitive path, how its requests are authenticated, the error code of a refused key
//! policy, and its handler. The table has two sections: `paths`, the operations addressed by
//! their path (every KVS API), and `targets`, the AWS JSON 1.1 operations addressed by the
//! `X-Amz-Target` header of `POST /` (the Secrets Manager subset). From a line the macro derives
//! the lookup the request context uses to resolve a request's operation once
//! ([`Operation::from_path`], [`Operation::from_target`]), the router's route for the path
//! ([`Operation::routes`]) or the dispatch of `POST /` ([`Operation::serve_target`]), and the
//! input check the fuzz targets run for every
//! operation ([`Operation::check_input`]). This module must not contain handler logic.
//!
//! [`Operation`]: crate::api::Operation
//! [`Operation::from_path`]: crate::api::Operation::from_path
//! [`Operation::routes`]: crate::api::Operation::routes
//! [`Operation::from_target`]: crate::api::Operation::from_target
//! [`Operation::serve_target`]: crate::api::Operation::serve_target
//! [`Operation::check_input`]: crate::api::Operation::check_input

/// Expands the route table; see the module documentation.
macro_rules! operations {
    (
        paths {
            $($variant:ident => $path:literal, $auth:ident, $denied:ident, $handler:path;)*
        }
        targets {
            $($tvariant:ident => $target:literal, $tauth:ident, $tdenied:ident, $thandler:path;)*
        }
    ) => {
        /// An operation served by this server: one line of the route table in `api/mod.rs`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $(
                #[doc = concat!("`POST ", $path, "`")]
                $variant,
            )*
            $(
                #[doc = concat!("`POST /` with `X-Amz-Target: ", $target, "`")]
                $tvariant,
            )*
        }

        impl Operation {
            /// Every operation, in table order.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)* $(Operation::$tvariant,)*];

            /// The AWS operation name, e.g. `DescribeStream`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$variant => stringify!($variant),)*
                    $(Operation::$tvariant => stringify!($tvariant),)*
                }
            }

            /// The request path, e.g. `/describeStream` (case-sensitive); `/` for an operation
            /// addressed by its [`target`](Self::target).
            pub fn path(self) -> &'static str {
                match self {
                    $(Operation::$variant => $path,)*
                    $(Operation::$tvariant => "/",)*
                }
            }

            /// The `X-Amz-Target` header value of an AWS JSON 1.1 operation (served on `POST /`),
            /// e.g. `secretsmanager.GetSecretValue`; `None` for an operation addressed by its path.
            pub fn target(self) -> Option<&'static str> {
                match self {
                    $(Operation::$variant => None,)*
                    $(Operation::$tvariant => Some($target),)*
                }
            }

            /// How requests of this operation are authenticated.
            pub fn auth(self) -> $crate::api::aws::AuthKind {
                match self {
                    $(Operation::$variant => $crate::api::aws::AuthKind::$auth,)*
                    $(Operation::$tvariant => $crate::api::aws::AuthKind::$tauth,)*
                }
            }

            /// The error code for a caller whose key policy does not allow the request.
            pub fn denied_code(self) -> $crate::api::aws::AwsErrorCode {
                match self {
                    $(Operation::$variant => $crate::api::aws::AwsErrorCode::$denied,)*
                    $(Operation::$tvariant => $crate::api::aws::AwsErrorCode::$tdenied,)*
                }
            }

            /// The operation served at `path`, if any (operations addressed by a target are not).
            pub fn from_path(path: &str) -> Option<Operation> {
                match path {
                    $($path => Some(Operation::$variant),)*
                    _ => None,
                }
            }

            /// The AWS JSON 1.1 operation an `X-Amz-Target` value names, if any.
            pub fn from_target(target: &str) -> Option<Operation> {
                match target {
                    $($target => Some(Operation::$tvariant),)*
                    _ => None,
                }
            }

            /// The router of every operation addressed by its path: each path bound to its
            /// handler. The operations addressed by a target are served on `POST /` by
            /// [`Operation::serve_target`].
            pub fn routes() -> ::axum::Router<$crate::api::AppState> {
                ::axum::Router::new()
                    $(.route($path, $crate::api::aws::call::route($handler)))*
            }

            /// `POST /`: runs the operation the request context resolved from `X-Amz-Target`.
            pub async fn serve_target(
                ::axum::extract::State(state): ::axum::extract::State<$crate::api::AppState>,
                req: ::axum::extract::Request,
            ) -> ::axum::response::Response {
                match req.extensions().get::<Operation>().copied() {
                    $(Some(Operation::$tvariant) => $crate::api::aws::call::serve($thandler, state, req).await,)*
                    _ => $crate::api::aws::middleware::unknown_operation(req).await,
                }
            }

            /// Deserialises `body` as this operation's input (in its JSON member form) and
            /// validates it, with no I/O: what the request would be refused with before its
            /// handler runs, if anything. Used by the fuzz targets.
            pub fn check_input(self, body: &[u8]) -> Result<(), $crate::api::aws::AwsError> {
                match self {
                    $(Operation::$variant => $crate::api::aws::call::check_input($handler, body),)*
                    $(Operation::$tvariant => $crate::api::aws::call::check_input($thandler, body),)*
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
    /// AWS JSON 1.1 (`POST /` with `X-Amz-Target`), SigV4 over the buffered body signed for service
    /// `secretsmanager`.
    SigV4Json11Secrets,
}

impl AuthKind {
    /// The SigV4 service the credential scope must name (and key policies are phrased in).
    pub fn service(self) -> &'static str {
        match self {
            AuthKind::SigV4Json | AuthKind::SigV4Streaming => "kinesisvideo",
            AuthKind::SigV4Json11Secrets => "secretsmanager",
        }
    }
}
