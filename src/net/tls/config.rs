//! TLS configuration in Node's terms, for both roles: the options a server
//! and a client are given, the rustls configurations built from them, and
//! the one place a failed handshake becomes an [`Error`] with Node's code.
//!
//! It lives in `net`, below `http`, so that the HTTP server and client
//! both use it and `https` (above both) only re-exports it: no import loop.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use super::trust::{
    ClientTrust, NodeClientVerifier, NodeServerVerifier, RefusedCertificate, ServerTrust,
};
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
    /// `request_cert`); `None` trusts the system's roots, as Node does.
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
    /// The application protocols offered in ALPN, most preferred first
    /// (Node's `ALPNProtocols`). Empty means `["http/1.1"]`; an HTTP/2
    /// server ([`http2::create_secure_server`](crate::http2::create_secure_server))
    /// sets `["h2"]`, with `"http/1.1"` after it when it also serves
    /// HTTP/1.1 (`allow_http1`).
    #[doc(alias = "ALPNProtocols")]
    pub alpn_protocols: Vec<String>,
}

/// A certificate served for one server name.
///
/// ```
/// let ctx = nodelike::https::SniContext {
///     servername: "api.example.com".into(),
///     ..Default::default()
/// };
/// assert!(ctx.cert.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SniContext {
    /// The name clients ask for (exact, lower case).
    pub servername: String,
    /// The chain, PEM.
    pub cert: Vec<u8>,
    /// The key, PEM.
    pub key: Vec<u8>,
}

/// TLS options of an HTTPS request, in Node's terms (the TLS part of
/// `https.request`'s options).
///
/// ```
/// let tls = nodelike::https::ClientTlsOptions::default();
/// assert!(tls.reject_unauthorized, "certificates are checked by default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientTlsOptions {
    /// Authorities to trust, PEM; `None` trusts the system's roots. A
    /// self-signed certificate given here is trusted as the server's own.
    pub ca: Option<Vec<u8>>,
    /// A client certificate chain to present, PEM (with `key`).
    pub cert: Option<Vec<u8>>,
    /// The client certificate's private key, PEM.
    pub key: Option<Vec<u8>>,
    /// The name to ask for (SNI) and check the certificate against;
    /// `None` uses the request's `Host` header, else its host (Node's
    /// rule).
    pub servername: Option<String>,
    /// Refuse a server whose certificate does not check out (Node's
    /// `rejectUnauthorized`, default `true`). With `false` the request
    /// goes on, and the socket's `authorized()` says `false` with the
    /// reason in `authorization_error()`.
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

/// What an HTTPS server's accepted connections are wrapped with.
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// Whether client certificates are asked for, and who judges them.
    pub(crate) client_certs: ClientCerts,
}

/// An HTTPS server's policy on client certificates (Node's `requestCert`
/// and `rejectUnauthorized`).
#[derive(Debug, Clone)]
pub(crate) enum ClientCerts {
    /// None are asked for (the default).
    NotAsked,
    /// Asked for and required: the handshake refuses a bad one.
    Required,
    /// Asked for, not required: judged after the handshake, for
    /// `authorized()`.
    JudgedAfter(ClientTrust),
}

/// What an HTTPS client's connections are made with.
#[derive(Debug, Clone)]
pub(crate) struct ClientTls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    /// Set with `reject_unauthorized: false`: the handshake lets any
    /// certificate through, and the transport judges it afterwards.
    pub(crate) judge_after: Option<Arc<ServerTrust>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A configuration mistake: [`ErrorKind::TlsConfig`] with OpenSSL's code
/// where Node reports one, and the rustls or PEM error kept as the source.
fn config_error(
    code: &'static str,
    what: &str,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::new(ErrorKind::TlsConfig, format!("{what}: {cause}"))
        .with_code(code)
        .with_cause(cause)
}

/// OpenSSL's codes for the mistakes Node reports at configuration time.
const BAD_PEM: &str = "ERR_OSSL_PEM_NO_START_LINE";
const BAD_KEY: &str = "ERR_OSSL_UNSUPPORTED";
const KEY_MISMATCH: &str = "ERR_OSSL_X509_KEY_VALUES_MISMATCH";
const NO_ROOTS: &str = "ERR_TLS_NO_TRUSTED_ROOTS";

/// Reads every certificate of a PEM bundle; none at all is a mistake.
fn read_certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_error(BAD_PEM, &format!("cannot read the {what} PEM"), e))?;
    if chain.is_empty() {
        return Err(config_error(
            BAD_PEM,
            &format!("no certificate in the {what} PEM"),
            std::io::Error::from(std::io::ErrorKind::InvalidData),
        ));
    }
    Ok(chain)
}

fn certified_key(
    cert: &[u8],
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain = read_certificates(cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| config_error(BAD_PEM, "cannot read the key PEM", e))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| config_error(BAD_KEY, "unusable private key", e))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Err(e @ rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(
            config_error(KEY_MISMATCH, "the key does not match the certificate", e),
        ),
        _ => Ok(certified),
    }
}

/// The system's trust roots (what Node uses without `ca`).
fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// The authorities of a `ca` option, or the system's; with the
/// certificates as given.
fn trust_roots(
    ca: Option<&[u8]>,
) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>), Error> {
    let Some(ca) = ca else {
        return Ok((system_roots(), Vec::new()));
    };
    let given = read_certificates(ca, "CA")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in &given {
        roots
            .add(cert.clone())
            .map_err(|e| config_error(BAD_PEM, "unusable CA certificate", e))?;
    }
    Ok((roots, given))
}

/// Builds what an HTTPS server wraps its connections with.
pub(crate) fn server_tls(options: &ServerOptions) -> Result<ServerTls, Error> {
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
        .map_err(|e| config_error("ERR_TLS_CONFIG", "TLS versions", e))?;
    let mut client_certs = ClientCerts::NotAsked;
    let builder = if options.request_cert {
        let (roots, _) = trust_roots(options.ca.as_deref())?;
        let reject = options.reject_unauthorized.unwrap_or(true);
        let webpki = if roots.is_empty() {
            None
        } else {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| config_error(NO_ROOTS, "client certificate verifier", e))?;
            Some(verifier)
        };
        if reject && webpki.is_none() {
            return Err(Error::new(
                ErrorKind::TlsConfig,
                "request_cert with reject_unauthorized needs a ca: no trusted roots were found",
            )
            .with_code(NO_ROOTS));
        }
        let trust = ClientTrust(webpki);
        client_certs = if reject {
            ClientCerts::Required
        } else {
            ClientCerts::JudgedAfter(trust.clone())
        };
        builder.with_client_cert_verifier(Arc::new(NodeClientVerifier {
            trust,
            reject_unauthorized: reject,
            algorithms: provider.signature_verification_algorithms,
        }))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { default, by_name }));
    config.alpn_protocols = if options.alpn_protocols.is_empty() {
        vec![b"http/1.1".to_vec()]
    } else {
        options
            .alpn_protocols
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect()
    };
    Ok(ServerTls {
        config: Arc::new(config),
        client_certs,
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

/// A client configuration per distinct TLS options on this thread, kept so
/// that connections made with the same options share rustls's session
/// cache (TLS session resumption).
/// The HTTP/1.1 client's: ALPN offers `http/1.1` only.
pub(crate) fn client_tls(options: &ClientTlsOptions) -> Result<ClientTls, Error> {
    client_tls_for(options, ClientAlpn::Http1)
}

/// What a client offers in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAlpn {
    /// `http/1.1` (the HTTP/1.1 client, `https.request`).
    Http1,
    /// `h2` alone (an HTTP/2 session, `http2.connect`): a server that
    /// does not choose it fails the session.
    H2,
}

/// [`client_tls`] for a given ALPN offer; each offer has its own cached
/// configurations (and so its own session cache).
pub(crate) fn client_tls_for(
    options: &ClientTlsOptions,
    alpn: ClientAlpn,
) -> Result<ClientTls, Error> {
    thread_local! {
        static CONFIGS: std::cell::RefCell<Vec<((ClientTlsOptions, ClientAlpn), ClientTls)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let key = ClientTlsOptions {
        servername: None,
        ..options.clone()
    };
    if let Some(found) = CONFIGS.with(|c| {
        c.borrow()
            .iter()
            .find(|((k, a), _)| *k == key && *a == alpn)
            .map(|(_, tls)| tls.clone())
    }) {
        return Ok(found);
    }
    let tls = build_client_tls(&key, alpn)?;
    CONFIGS.with(|c| c.borrow_mut().push(((key, alpn), tls.clone())));
    Ok(tls)
}

fn build_client_tls(options: &ClientTlsOptions, alpn: ClientAlpn) -> Result<ClientTls, Error> {
    let provider = provider();
    let (roots, given) = trust_roots(options.ca.as_deref())?;
    let trust = Arc::new(ServerTrust::new(roots, given, &provider));
    let verifier = Arc::new(NodeServerVerifier {
        trust: trust.clone(),
        reject_unauthorized: options.reject_unauthorized,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("ERR_TLS_CONFIG", "TLS versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let certified = certified_key(cert, key, &provider)?;
            let chain = certified.cert.clone();
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| config_error(BAD_PEM, "cannot read the client key PEM", e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config_error(BAD_KEY, "unusable client certificate", e))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match alpn {
        ClientAlpn::Http1 => vec![b"http/1.1".to_vec()],
        ClientAlpn::H2 => vec![b"h2".to_vec()],
    };
    Ok(ClientTls {
        config: Arc::new(config),
        judge_after: (!options.reject_unauthorized).then_some(trust),
    })
}

/// Which side of a handshake failed, for its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A server's handshake with a client (`tlsClientError`).
    Server,
    /// A client's handshake with a server (the request's `error`).
    Client,
}

/// The error a failed handshake is reported as: a certificate refusal
/// with Node's code and words, anything else as
/// [`ErrorKind::TlsHandshake`]; rustls's error is kept as the source.
pub(crate) fn handshake_error(e: &std::io::Error, role: Role) -> Option<Error> {
    let failure = e.get_ref()?.downcast_ref::<super::TlsFailure>()?;
    let rustls_error = failure.0.clone();
    let error = match RefusedCertificate::find(&failure.0) {
        Some(refusal) => refusal.to_error(),
        None => {
            match &failure.0 {
                // A server that requires a certificate and got none: what
                // OpenSSL says then.
                rustls::Error::NoCertificatesPresented if role == Role::Server => {
                    Error::new(ErrorKind::CertRejected, "peer did not return a certificate")
                        .with_code("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")
                }
                rustls::Error::InvalidCertificate(_) => {
                    super::trust::Refusal::from(super::CertIssue::Other).to_error()
                }
                _ => Error::new(ErrorKind::TlsHandshake, failure.0.to_string()),
            }
        }
    };
    Some(error.with_cause(rustls_error))
}
