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

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::http::{IncomingMessage, Server, ServerResponse};
use crate::net::tls::ClientAuthCheck;
use crate::{Error, ErrorKind};

/// TLS options of an HTTPS server, in Node's terms.
///
/// ```no_run
/// let options = nodelike::https::ServerOptions {
///     cert: std::fs::read("cert.pem").unwrap(),
///     key: std::fs::read("key.pem").unwrap(),
///     ..Default::default()
/// };
/// let server = nodelike::https::create_server(options, |_req, res| res.end("secure\n")).unwrap();
/// server.listen(8443, "127.0.0.1", || {});
/// nodelike::run();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOptions {
    /// The certificate chain, PEM (leaf first).
    pub cert: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Vec<u8>,
    /// Authorities whose client certificates are trusted, PEM (used with
    /// `request_cert`).
    pub ca: Option<Vec<u8>>,
    /// Ask clients for a certificate (Node's `requestCert`).
    pub request_cert: bool,
    /// Refuse clients whose certificate is missing or does not check out
    /// (Node's `rejectUnauthorized`; `None` means `true` when
    /// `request_cert`). With `false`, such clients are served and
    /// [`authorized`](crate::net::Socket::authorized) says `false`.
    pub reject_unauthorized: Option<bool>,
    /// Certificates by server name (SNI, Node's `SNICallback` as a map):
    /// a client asking for a name here gets its certificate; any other
    /// gets `cert`.
    pub sni: Vec<SniContext>,
}

/// A certificate served for one server name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SniContext {
    /// The name clients ask for (exact, lower case).
    pub servername: String,
    /// The chain, PEM.
    pub cert: Vec<u8>,
    /// The key, PEM.
    pub key: Vec<u8>,
}

/// What an HTTPS server's accepted connections are wrapped with.
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// Set when client certificates are asked for but not required: judges
    /// them after the handshake.
    pub(crate) client_auth: Option<ClientAuthCheck>,
}

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
/// this point too), as [`ErrorKind::TlsHandshake`].
#[doc(alias = "createServer")]
pub fn create_server(
    options: ServerOptions,
    request_listener: impl FnMut(IncomingMessage, ServerResponse) + 'static,
) -> Result<Server, Error> {
    let tls = server_tls(&options)?;
    let server = crate::http::create_server(request_listener);
    server.set_tls(tls);
    Ok(server)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::TlsHandshake, format!("{what}: {e}"))
}

fn certified_key(
    cert: &[u8],
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("cannot read the certificate PEM", e))?;
    if chain.is_empty() {
        return Err(bad("no certificate in the PEM", "empty"));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("cannot read the key PEM", e))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad("unusable private key", e))?;
    Ok(CertifiedKey::new(chain, signing))
}

fn server_tls(options: &ServerOptions) -> Result<ServerTls, Error> {
    let provider = provider();
    let default = Arc::new(certified_key(&options.cert, &options.key, &provider)?);
    let mut by_name = HashMap::new();
    for ctx in &options.sni {
        by_name.insert(
            ctx.servername.to_ascii_lowercase(),
            Arc::new(certified_key(&ctx.cert, &ctx.key, &provider)?),
        );
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", e))?;
    let mut client_auth = None;
    let builder = if options.request_cert {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &options.ca {
            for cert in CertificateDer::pem_slice_iter(ca) {
                let cert = cert.map_err(|e| bad("cannot read the CA PEM", e))?;
                roots
                    .add(cert)
                    .map_err(|e| bad("unusable CA certificate", e))?;
            }
        }
        let roots = Arc::new(roots);
        let strict = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| bad("client certificate verifier", e))?;
        if options.reject_unauthorized.unwrap_or(true) {
            builder.with_client_cert_verifier(strict)
        } else {
            client_auth = Some(ClientAuthCheck(strict.clone()));
            builder.with_client_cert_verifier(Arc::new(AskForCertificate(strict)))
        }
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { default, by_name }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        client_auth,
    })
}

/// The certificate for the name a client asks for (SNI), else the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()));
        Some(named.unwrap_or(&self.default).clone())
    }
}

/// Node's `requestCert: true, rejectUnauthorized: false`: ask for a client
/// certificate, let the handshake through whatever comes, and judge it
/// afterwards (`authorized`, `authorization_error`). The signature proving
/// the client holds the key is still checked.
#[derive(Debug)]
struct AskForCertificate(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for AskForCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The `Error` a failed TLS handshake is reported as, with Node's code.
pub(crate) fn handshake_error(e: &std::io::Error) -> Option<Error> {
    let failure = e.get_ref()?.downcast_ref::<crate::net::tls::TlsFailure>()?;
    let kind = match &failure.0 {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            ErrorKind::CertRejected
        }
        _ => ErrorKind::TlsHandshake,
    };
    Some(Error::new(kind, failure.0.to_string()))
}

// ------------------------------------------------------------------ client

/// TLS options of an HTTPS request, in Node's terms (the TLS part of
/// `https.request`'s options).
///
/// ```
/// let tls = nodelike::https::ClientTlsOptions::default();
/// assert!(tls.reject_unauthorized, "certificates are checked by default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientTlsOptions {
    /// Authorities to trust, PEM; `None` trusts the system's roots.
    pub ca: Option<Vec<u8>>,
    /// A client certificate chain to present, PEM (with `key`).
    pub cert: Option<Vec<u8>>,
    /// The client certificate's private key, PEM.
    pub key: Option<Vec<u8>>,
    /// The name to ask for (SNI) and check the certificate against;
    /// `None` uses the request's host.
    pub servername: Option<String>,
    /// Refuse a server whose certificate does not check out (Node's
    /// `rejectUnauthorized`, default `true`).
    pub reject_unauthorized: bool,
}

impl Default for ClientTlsOptions {
    fn default() -> Self {
        ClientTlsOptions {
            ca: None,
            cert: None,
            key: None,
            servername: None,
            reject_unauthorized: true,
        }
    }
}

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

/// A client configuration per distinct TLS options on this thread, kept so
/// that connections made with the same options share rustls's session
/// cache (TLS session resumption).
pub(crate) fn client_config(
    options: &ClientTlsOptions,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    thread_local! {
        static CONFIGS: std::cell::RefCell<Vec<(ClientTlsOptions, Arc<rustls::ClientConfig>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let key = ClientTlsOptions {
        servername: None,
        ..options.clone()
    };
    if let Some(found) = CONFIGS.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, cfg)| cfg.clone())
    }) {
        return Ok(found);
    }
    let config = Arc::new(build_client_config(&key)?);
    CONFIGS.with(|c| c.borrow_mut().push((key, config.clone())));
    Ok(config)
}

fn build_client_config(options: &ClientTlsOptions) -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let mut roots = rustls::RootCertStore::empty();
    match &options.ca {
        Some(ca) => {
            for cert in CertificateDer::pem_slice_iter(ca) {
                let cert = cert.map_err(|e| bad("cannot read the CA PEM", e))?;
                roots
                    .add(cert)
                    .map_err(|e| bad("unusable CA certificate", e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| bad("server certificate verifier", e))?;
    let verifier = Arc::new(NodeServerVerifier {
        inner: webpki,
        reject_unauthorized: options.reject_unauthorized,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("cannot read the client certificate PEM", e))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| bad("cannot read the client key PEM", e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad("unusable client certificate", e))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The WebPKI check with Node's names for its verdicts: a refusal carries
/// the [`CertIssue`](crate::tls::CertIssue) (so the request's error has
/// Node's code), and with `reject_unauthorized: false` any certificate is
/// let through (signatures are still checked).
#[derive(Debug)]
struct NodeServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    reject_unauthorized: bool,
}

/// A certificate refusal as a rustls error that keeps Node's reason.
#[derive(Debug)]
pub(crate) struct RefusedCertificate(pub(crate) crate::net::tls::CertIssue);

impl std::fmt::Display for RefusedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certificate refused: {}", self.0.code())
    }
}

impl std::error::Error for RefusedCertificate {}

impl rustls::client::danger::ServerCertVerifier for NodeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(_) if !self.reject_unauthorized => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            Err(e) => {
                let issue = crate::net::tls::CertIssue::from_rustls(&e, end_entity, intermediates);
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Other(rustls::OtherError(Arc::new(
                        RefusedCertificate(issue),
                    ))),
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The request error a failed client handshake becomes, with Node's code.
pub(crate) fn client_handshake_error(e: &std::io::Error) -> Option<Error> {
    use crate::net::tls::CertIssue;
    let failure = e.get_ref()?.downcast_ref::<crate::net::tls::TlsFailure>()?;
    let issue = match &failure.0 {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.0.downcast_ref::<RefusedCertificate>().map(|r| r.0)
        }
        _ => None,
    };
    let kind = match issue {
        Some(CertIssue::SelfSigned) => ErrorKind::SelfSignedCert,
        Some(CertIssue::UnknownIssuer) => ErrorKind::UntrustedCert,
        Some(CertIssue::Expired) => ErrorKind::CertExpired,
        Some(CertIssue::NameMismatch) => ErrorKind::CertNameMismatch,
        Some(_) => ErrorKind::CertRejected,
        None => ErrorKind::TlsHandshake,
    };
    let message = match issue {
        Some(issue) => format!("certificate refused: {}", issue.code()),
        None => failure.0.to_string(),
    };
    Some(Error::new(kind, message))
}
