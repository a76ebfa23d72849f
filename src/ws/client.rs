//! The client side of the opening handshake (`ws`'s `new WebSocket(url)`):
//! an HTTP (or HTTPS) `GET` asking to upgrade, sent by the crate's own
//! client on the same loop, and the 101 answer checked before the socket
//! becomes a [`WebSocket`].

use super::protocol::{self, Deflater, Inflater, PerMessageDeflate, Receiver, Role, Sender};
use super::websocket::WebSocket;
use crate::http::{self, IntoRequestOptions};
use crate::{Error, ErrorKind};

/// Options of [`WebSocket::connect`] (`ws`'s `new WebSocket(address,
/// protocols, options)`).
///
/// ```
/// let options = nodelike::ws::ClientOptions {
///     protocols: vec!["chat".into()],
///     handshake_timeout: Some(5_000),
///     ..Default::default()
/// };
/// assert!(options.per_message_deflate.is_some()); // on by default, as `ws`
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Subprotocols to offer (`Sec-WebSocket-Protocol`), most wanted first.
    pub protocols: Vec<String>,
    /// Further request headers.
    pub headers: Vec<(String, String)>,
    /// The `Origin` header to send.
    pub origin: Option<String>,
    /// Offer permessage-deflate (default: offered with `ws`'s defaults;
    /// `None` offers nothing).
    #[doc(alias = "perMessageDeflate")]
    pub per_message_deflate: Option<PerMessageDeflate>,
    /// Fail the handshake when no answer came within this many
    /// milliseconds.
    #[doc(alias = "handshakeTimeout")]
    pub handshake_timeout: Option<u64>,
    /// The largest message accepted (default 100 MiB).
    #[doc(alias = "maxPayload")]
    pub max_payload: usize,
    /// TLS options for `wss://` (the HTTPS client's: trust, client
    /// certificate, servername).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::https::ClientTlsOptions>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            protocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            per_message_deflate: Some(PerMessageDeflate::default()),
            handshake_timeout: None,
            max_payload: 100 * 1024 * 1024,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl WebSocket {
    /// Opens a client connection (`ws`'s `new WebSocket(url, options)`):
    /// `ws://` or `wss://` (or `http://`/`https://`). Returns at once, in
    /// the `Connecting` state; `open` follows once the server's 101 has
    /// been checked (its `Sec-WebSocket-Accept`, subprotocol and
    /// extensions), or `error` and `close` (1006) if the handshake fails.
    /// Redirects are not followed: they fail the handshake as any answer
    /// other than 101 does (see
    /// [`on_unexpected_response`](WebSocket::on_unexpected_response)).
    ///
    /// ```no_run
    /// use nodelike::ws::{ClientOptions, WebSocket};
    /// let ws = WebSocket::connect("ws://127.0.0.1:8080/chat", ClientOptions {
    ///     protocols: vec!["chat".into()],
    ///     ..Default::default()
    /// });
    /// ws.on_open(move || { ws.send("hi"); });
    /// ws.on_error(|e| eprintln!("{e}"));
    /// nodelike::run();
    /// ```
    pub fn connect(url: &str, options: ClientOptions) -> WebSocket {
        let ws = WebSocket::create(url.to_owned());
        let http_url = if let Some(rest) = url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            url.to_owned()
        };
        let request_options = match http_url.as_str().into_request_options() {
            Ok(o) => o,
            Err(e) => {
                let error = Error::new(ErrorKind::WebSocket, format!("Invalid URL: {url} ({e})"));
                crate::next_tick(move || ws.fail_handshake(Some(error)));
                return ws;
            }
        };
        start(ws, request_options, options);
        ws
    }
}

fn start(ws: WebSocket, mut request: http::RequestOptions, options: ClientOptions) {
    let key = protocol::new_client_key();
    request.method = "GET".into();
    let mut headers = vec![
        ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
        ("Sec-WebSocket-Key".to_owned(), key.clone()),
        ("Connection".to_owned(), "Upgrade".to_owned()),
        ("Upgrade".to_owned(), "websocket".to_owned()),
    ];
    if let Some(deflate) = &options.per_message_deflate {
        headers.push((
            "Sec-WebSocket-Extensions".to_owned(),
            protocol::client_offer(deflate),
        ));
    }
    if !options.protocols.is_empty() {
        headers.push((
            "Sec-WebSocket-Protocol".to_owned(),
            options.protocols.join(","),
        ));
    }
    if let Some(origin) = &options.origin {
        headers.push(("Origin".to_owned(), origin.clone()));
    }
    headers.extend(options.headers.iter().cloned());
    request.headers = headers;
    #[cfg(feature = "tls")]
    if let (Some(tls), Some(own)) = (request.tls.as_mut(), options.tls.clone()) {
        *tls = own;
    }

    let req = http::request(request, move |res| {
        // Anything but a 101: `unexpected-response` if someone listens,
        // else the handshake fails with `ws`'s message.
        if ws.take_handshake().is_none() {
            res.destroy();
            return;
        }
        // With a listener, the answer is the user's, and the connection
        // closes (1006) without an `error`.
        let error = (!ws.emit_unexpected_response(&res)).then(|| {
            Error::new(
                ErrorKind::WebSocket,
                format!("Unexpected server response: {}", res.status_code()),
            )
        });
        res.destroy();
        ws.fail_handshake(error);
    });
    if let Some(ms) = options.handshake_timeout {
        req.set_timeout(ms);
        req.on_timeout(move || {
            if let Some(r) = ws.take_handshake() {
                r.destroy(None);
            }
            ws.fail_handshake(Some(Error::new(
                ErrorKind::WebSocket,
                "Opening handshake has timed out",
            )));
        });
    }
    req.on_error(move |e| {
        if ws.take_handshake().is_some() {
            ws.fail_handshake(Some(e.clone()));
        }
    });
    let offered = options.per_message_deflate.clone();
    let protocols = options.protocols.clone();
    let max_payload = options.max_payload;
    req.on_upgrade(move |res, socket, head| {
        if ws.take_handshake().is_none() {
            // Closed or terminated while connecting.
            socket.destroy();
            return;
        }
        let headers = res.headers();
        let checked = protocol::check_upgrade_response(
            res.status_code(),
            &|name| headers.get(name),
            &key,
            &protocols,
            offered.as_ref(),
        );
        let (chosen, params) = match checked {
            Ok(ok) => ok,
            Err(message) => {
                socket.destroy();
                return ws.fail_handshake(Some(Error::new(ErrorKind::WebSocket, message)));
            }
        };
        let extensions = if params.is_some() {
            headers
                .get("sec-websocket-extensions")
                .unwrap_or_default()
                .to_owned()
        } else {
            String::new()
        };
        let level_and_threshold = offered
            .as_ref()
            .map(|o| (o.level, o.threshold, o.client_max_window_bits));
        let receiver = Receiver::new(
            Role::Client,
            max_payload,
            params.as_ref().map(|p| Inflater::new(p, Role::Client)),
        );
        let sender = Sender::new(
            Role::Client,
            params
                .as_ref()
                .zip(level_and_threshold)
                .map(|(p, (level, threshold, bits))| {
                    Deflater::new(p, Role::Client, level, threshold).configured(
                        p,
                        Role::Client,
                        bits,
                    )
                }),
        );
        ws.open(socket, head, receiver, sender, chosen, extensions);
        ws.emit_open();
    });
    req.end(());
    ws.set_handshake(req);
}
