//! Node's `http` module: [`create_server`] and the server's request and
//! response; the HTTP/1.1 protocol core that both use lives in [`h1`].
//!
//! | Node | nodelike |
//! |---|---|
//! | `http.createServer(listener)` | [`create_server`]`(listener)` |
//! | `server.listen(port, host, cb)` | [`Server::listen`] |
//! | `server.on('request', f)` | [`Server::on_request`] |
//! | `request.on('data', f)` | [`IncomingMessage::on_data`] |
//! | `response.writeHead(200, {...})` | [`ServerResponse::write_head`]`(200, &[...])` |
//! | `response.end()` | [`ServerResponse::end`]`(())` |

mod body;
mod client;
mod compression;
pub mod h1;
pub mod h2;
pub mod http2;
#[cfg(feature = "tls")]
pub mod https;
mod incoming;
mod keep_alive;
mod outgoing;
pub use outgoing::HeaderList;
mod server;

pub(crate) use body::{BodyError, Framing};

pub use client::{
    get, get_agent, global_agent, request, request_in_memory, Agent, AgentOptions, ClientRequest,
    ClientResponse, IntoRequestOptions, RequestOptions, AGENT_IDLE_TIMEOUT_MS,
};
pub use compression::{
    compression, decompress, Compressed, CompressionOptions, DecompressOptions, EncodedBody,
};
pub use h1::encode::{METHODS, STATUS_CODES};
pub use h1::headers_public::{HeaderValue, Headers};
pub(crate) use server::release_upgraded;
pub use server::{
    create_server, CloseReason, IncomingMessage, IntoHeaderValues, ListenOptions, SendFileOptions,
    Server, ServerResponse, DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_TIMEOUT_MS,
};
// HTTP/2's core-API handles: their one documented path is `nodelike::http2`.
#[doc(hidden)]
pub use server::{Http2Session, RespondOptions, ServerHttp2Stream};
