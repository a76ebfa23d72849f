//! Node's `https` module: the same HTTP server over TLS.
//!
//! An HTTPS server is an [`http::Server`](crate::http::Server) whose
//! accepted connections get a TLS transport (rustls, ring provider) before
//! they become sockets; every event, limit and timeout works unchanged, and
//! the TLS handshake counts toward the headers timeout (the request clock
//! starts when the connection is accepted). Options use Node's names.
//!
//! | Node | nodelike |
//! |---|---|
//! | `https.createServer({ cert, key, ca, requestCert, rejectUnauthorized }, cb)` | [`create_server`]`(ServerOptions { .. }, cb)` |
//! | `server.on('secureConnection' \| 'tlsClientError', f)` | `on_secure_connection`, `on_tls_client_error` |
//! | `req.connection.verifyPeer()`, `getPeerCertificate()` | `req.connection().verify_peer()`, `peer_certificate()` |
//! | `socket.authorized`, `socket.authorizationError` | `authorized()`, `authorization_error()` |

use crate::http::{IncomingMessage, Server, ServerResponse};
use crate::Error;

pub use crate::net::tls::{ClientTlsOptions, ServerOptions, SniContext};

/// Creates an HTTPS server (Node's `https.createServer(options, listener)`).
///
/// ```no_run
/// let options = nodelike::https::ServerOptions {
///     cert: std::fs::read("cert.pem").unwrap(),
///     key: std::fs::read("key.pem").unwrap(),
///     ..Default::default()
/// };
/// nodelike::https::create_server(options, |req, res| res.end(req.url()))
///     .expect("a usable certificate and key")
///     .listen(8443, "127.0.0.1", || println!("https://127.0.0.1:8443/"));
/// nodelike::run();
/// ```
///
/// # Errors
///
/// A certificate, key or CA that cannot be read or used (Node throws at
/// this point too), as [`ErrorKind::TlsConfig`](crate::ErrorKind::TlsConfig)
/// with OpenSSL's code where Node gives one
/// (`ERR_OSSL_PEM_NO_START_LINE`, `ERR_OSSL_X509_KEY_VALUES_MISMATCH`).
#[doc(alias = "createServer")]
pub fn create_server(
    options: ServerOptions,
    request_listener: impl FnMut(IncomingMessage, ServerResponse) + 'static,
) -> Result<Server, Error> {
    let tls = crate::net::tls::server_tls(&options)?;
    let server = crate::http::create_server(request_listener);
    server.set_tls(tls);
    Ok(server)
}

// ------------------------------------------------------------------ client

/// Issues an HTTPS request (Node's `https.request`): [`http::request`]
/// with TLS (default options unless `options.tls` says otherwise, port 443
/// unless another was given).
///
/// ```no_run
/// use nodelike::{http, https};
/// let req = https::request("https://example.com/", |res| println!("{}", res.status_code()));
/// req.on_error(|e| eprintln!("{}: {e}", e.code()));
/// req.end(());
/// nodelike::run();
/// ```
///
/// [`http::request`]: crate::http::request
pub fn request(
    options: impl crate::http::IntoRequestOptions,
    on_response: impl FnMut(crate::http::ClientResponse) + 'static,
) -> crate::http::ClientRequest {
    let options = options.into_request_options().map(|mut o| {
        if o.tls.is_none() {
            o.tls = Some(ClientTlsOptions::default());
            if o.port == 80 {
                o.port = 443;
            }
        }
        o
    });
    crate::http::request(options, on_response)
}

/// An HTTPS GET, ended at once (Node's `https.get`).
///
/// ```no_run
/// nodelike::https::get("https://example.com/", |res| println!("{}", res.status_code()));
/// nodelike::run();
/// ```
pub fn get(
    options: impl crate::http::IntoRequestOptions,
    on_response: impl FnMut(crate::http::ClientResponse) + 'static,
) -> crate::http::ClientRequest {
    let req = request(
        options.into_request_options().map(|mut o| {
            o.method = "GET".into();
            o
        }),
        on_response,
    );
    req.end(());
    req
}
