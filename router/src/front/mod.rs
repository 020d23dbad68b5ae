//! Front ends: the protocols clients speak to the router.

pub mod errors;
pub mod openai;
pub mod request_fields;

use bytes::Bytes;
use http_body_util::{Either, Full};

use crate::proxy::ProxyBody;

/// A response body: either one the router wrote itself, or an upstream's
/// streamed through.
pub type ResponseBody = Either<Full<Bytes>, ProxyBody>;
