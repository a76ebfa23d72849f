//! What a request asks for: `RequestOptions`, and URLs turned into them.

use std::path::PathBuf;

use crate::{Error, ErrorKind};

/// Where and what to request (Node's `http.request` options).
///
/// ```
/// let opts = nodelike::http::RequestOptions {
///     host: "127.0.0.1".into(),
///     port: 8000,
///     method: "POST".into(),
///     path: "/upload?x=1".into(),
///     ..Default::default()
/// };
/// assert_eq!(opts.headers.len(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Host name or IP address (default `localhost`).
    pub host: String,
    /// Port (default 80).
    pub port: u16,
    /// Any method token (default `GET`).
    pub method: String,
    /// Path with query (default `/`).
    pub path: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Connect to this unix-domain socket instead of `host:port`.
    pub socket_path: Option<PathBuf>,
    /// The agent whose pool the request uses (Node's `agent`): the
    /// [`global_agent`](crate::http::global_agent) by default, one made
    /// with [`Agent::new`](crate::http::Agent::new), or `None` (Node's
    /// `agent: false`) for a connection of its own, closed after the
    /// response.
    pub agent: Option<crate::http::Agent>,
    /// Speak TLS (HTTPS) with these options; `None` is plain HTTP. An
    /// `https://` URL and [`https::request`](crate::https::request) set it.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::net::tls::ClientTlsOptions>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            host: "localhost".into(),
            port: 80,
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            socket_path: None,
            agent: Some(crate::http::global_agent()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// What [`request`](crate::http::request) and [`get`](crate::http::get) accept: [`RequestOptions`], or a URL string
/// (`http://host:port/path?query`).
///
/// ```
/// use nodelike::http::IntoRequestOptions;
/// let o = "http://127.0.0.1:8080/a?b=c".into_request_options().unwrap();
/// assert_eq!((o.host.as_str(), o.port, o.path.as_str()), ("127.0.0.1", 8080, "/a?b=c"));
/// ```
pub trait IntoRequestOptions {
    /// The options, or why the value is not a usable request target.
    fn into_request_options(self) -> Result<RequestOptions, Error>;
}

impl IntoRequestOptions for RequestOptions {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        Ok(self)
    }
}

/// Options already checked (or the reason they are not usable, which the
/// request then reports as its `error`).
impl IntoRequestOptions for Result<RequestOptions, Error> {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self
    }
}

impl IntoRequestOptions for &str {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        let u = crate::url::parse(self, false);
        let secure = match u.protocol.as_deref() {
            Some("http:") => false,
            #[cfg(feature = "tls")]
            Some("https:") => true,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Protocol not supported in {self:?}: use http://"),
                ))
            }
        };
        let host = u
            .hostname
            .clone()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Invalid URL (no host): {self:?}"),
                )
            })?;
        let port = match u.port.as_deref() {
            None if secure => 443,
            None => 80,
            Some(p) => p.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("Invalid port in {self:?}"),
                )
            })?,
        };
        Ok(RequestOptions {
            host,
            port,
            path: u.path.unwrap_or_else(|| "/".into()),
            #[cfg(feature = "tls")]
            tls: secure.then(Default::default),
            ..Default::default()
        })
    }
}

impl IntoRequestOptions for String {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self.as_str().into_request_options()
    }
}

impl IntoRequestOptions for &String {
    fn into_request_options(self) -> Result<RequestOptions, Error> {
        self.as_str().into_request_options()
    }
}
