//! Whether a peer's certificate is trusted, judged as Node judges it.
//!
//! Node asks OpenSSL whether the chain leads to a trusted authority, and
//! then, on the client, its own `checkServerIdentity` whether the
//! certificate names the host. This module does the same in two steps:
//!
//! 1. **the chain**: webpki (through rustls) builds a path to the roots; a
//!    refusal is classified into OpenSSL's codes ([`CertIssue`]). A
//!    certificate that is itself one of the given authorities (what
//!    `openssl req -x509` makes, `CA:TRUE`) is trusted as it is, as
//!    OpenSSL trusts it, after its dates are checked;
//! 2. **the name**: [`check_server_identity`], Node's rules: IP hosts
//!    against IP SANs; names against DNS SANs with one leading-label
//!    wildcard; the subject's CN only when the certificate lists no DNS
//!    names.
//!
//! The verdict is the same whether the handshake enforces it
//! (`reject_unauthorized: true`: the verifier refuses) or only reports it
//! (`false`: the handshake goes on and the transport judges afterwards, so
//! `authorized()` is `false` and `authorization_error()` has the code).

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::certificate::{check_validity, is_self_issued, CertNames, PeerCertificate};
use crate::{Error, ErrorKind};

/// The most intermediates a peer may send. Each one costs path-building
/// work; OpenSSL's default depth allows far more, but no real chain needs
/// more than a handful, and a peer sending dozens of forged ones only
/// makes the handshake expensive.
pub(crate) const MAX_INTERMEDIATES: usize = 8;

/// Why a certificate did not check out, with Node's (OpenSSL's) code for it.
///
/// ```
/// use nodelike::tls::CertIssue;
/// assert_eq!(CertIssue::Expired.code(), "CERT_HAS_EXPIRED");
/// assert_eq!(CertIssue::SelfSigned.message(), "self-signed certificate");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertIssue {
    /// No certificate was presented (`UNABLE_TO_GET_ISSUER_CERT`, what
    /// Node reports for a client that sent none).
    NoCertificate,
    /// A self-signed certificate that is not trusted
    /// (`DEPTH_ZERO_SELF_SIGNED_CERT`).
    SelfSigned,
    /// The chain ends in a self-signed root that is not trusted
    /// (`SELF_SIGNED_CERT_IN_CHAIN`).
    SelfSignedInChain,
    /// A lone certificate not issued by a trusted authority
    /// (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`).
    UnknownIssuer,
    /// A chain whose last certificate's issuer is not trusted
    /// (`UNABLE_TO_GET_ISSUER_CERT_LOCALLY`).
    IssuerNotFoundLocally,
    /// Past its `notAfter` (`CERT_HAS_EXPIRED`).
    Expired,
    /// Before its `notBefore` (`CERT_NOT_YET_VALID`).
    NotYetValid,
    /// A signature in the chain does not verify (`CERT_SIGNATURE_FAILURE`).
    BadSignature,
    /// Not meant for this use, e.g. a client certificate presented by a
    /// server (`INVALID_PURPOSE`).
    InvalidPurpose,
    /// More intermediates than a peer may send (`CERT_CHAIN_TOO_LONG`).
    ChainTooLong,
    /// Not valid for the name asked for (`ERR_TLS_CERT_ALTNAME_INVALID`).
    NameMismatch,
    /// Revoked (`CERT_REVOKED`).
    Revoked,
    /// Any other reason (`CERT_REJECTED`).
    Other,
}

impl CertIssue {
    /// Node's code for the issue (`err.code`, `authorizationError`).
    ///
    /// ```
    /// assert_eq!(nodelike::tls::CertIssue::SelfSigned.code(), "DEPTH_ZERO_SELF_SIGNED_CERT");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            CertIssue::NoCertificate => "UNABLE_TO_GET_ISSUER_CERT",
            CertIssue::SelfSigned => "DEPTH_ZERO_SELF_SIGNED_CERT",
            CertIssue::SelfSignedInChain => "SELF_SIGNED_CERT_IN_CHAIN",
            CertIssue::UnknownIssuer => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            CertIssue::IssuerNotFoundLocally => "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
            CertIssue::Expired => "CERT_HAS_EXPIRED",
            CertIssue::NotYetValid => "CERT_NOT_YET_VALID",
            CertIssue::BadSignature => "CERT_SIGNATURE_FAILURE",
            CertIssue::InvalidPurpose => "INVALID_PURPOSE",
            CertIssue::ChainTooLong => "CERT_CHAIN_TOO_LONG",
            CertIssue::NameMismatch => "ERR_TLS_CERT_ALTNAME_INVALID",
            CertIssue::Revoked => "CERT_REVOKED",
            CertIssue::Other => "CERT_REJECTED",
        }
    }

    /// The message Node's error carries for the issue (OpenSSL's words).
    ///
    /// ```
    /// let issue = nodelike::tls::CertIssue::UnknownIssuer;
    /// assert_eq!(issue.message(), "unable to verify the first certificate");
    /// ```
    pub fn message(&self) -> &'static str {
        match self {
            CertIssue::NoCertificate => "unable to get issuer certificate",
            CertIssue::SelfSigned => "self-signed certificate",
            CertIssue::SelfSignedInChain => "self-signed certificate in certificate chain",
            CertIssue::UnknownIssuer => "unable to verify the first certificate",
            CertIssue::IssuerNotFoundLocally => "unable to get local issuer certificate",
            CertIssue::Expired => "certificate has expired",
            CertIssue::NotYetValid => "certificate is not yet valid",
            CertIssue::BadSignature => "certificate signature failure",
            CertIssue::InvalidPurpose => "unsupported certificate purpose",
            CertIssue::ChainTooLong => "certificate chain too long",
            CertIssue::NameMismatch => "Hostname/IP does not match certificate's altnames",
            CertIssue::Revoked => "certificate revoked",
            CertIssue::Other => "certificate rejected",
        }
    }

    /// The [`ErrorKind`] a refusal for this issue is reported as.
    pub(crate) fn error_kind(&self) -> ErrorKind {
        match self {
            CertIssue::SelfSigned => ErrorKind::SelfSignedCert,
            CertIssue::SelfSignedInChain => ErrorKind::SelfSignedCertInChain,
            CertIssue::UnknownIssuer | CertIssue::IssuerNotFoundLocally => ErrorKind::UntrustedCert,
            CertIssue::Expired => ErrorKind::CertExpired,
            CertIssue::NameMismatch => ErrorKind::CertNameMismatch,
            _ => ErrorKind::CertRejected,
        }
    }

    /// Classifies a webpki verdict on the chain `end, rest` into
    /// OpenSSL's terms. webpki says "unknown issuer" for every chain that
    /// leads nowhere; OpenSSL tells apart where it stopped.
    pub(crate) fn from_rustls(e: &rustls::Error, end: &[u8], rest: &[CertificateDer<'_>]) -> Self {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => CertIssue::leads_nowhere(end, rest),
                C::Expired | C::ExpiredContext { .. } => CertIssue::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => CertIssue::NotYetValid,
                C::NotValidForName | C::NotValidForNameContext { .. } => CertIssue::NameMismatch,
                C::BadSignature | C::UnsupportedSignatureAlgorithmContext { .. } => {
                    CertIssue::BadSignature
                }
                C::InvalidPurpose | C::InvalidPurposeContext { .. } => CertIssue::InvalidPurpose,
                C::Revoked => CertIssue::Revoked,
                // webpki refuses a CA certificate as an end entity before it
                // looks for an issuer; an untrusted self-signed CA
                // certificate is, to OpenSSL, simply self-signed.
                _ if rest.is_empty() && is_self_issued(end) => CertIssue::SelfSigned,
                _ => CertIssue::Other,
            },
            rustls::Error::NoCertificatesPresented => CertIssue::NoCertificate,
            _ => CertIssue::Other,
        }
    }

    /// A chain that reaches no trusted root, in OpenSSL's terms.
    fn leads_nowhere(end: &[u8], rest: &[CertificateDer<'_>]) -> CertIssue {
        match rest.last() {
            None if is_self_issued(end) => CertIssue::SelfSigned,
            None => CertIssue::UnknownIssuer,
            Some(top) if is_self_issued(top) => CertIssue::SelfSignedInChain,
            Some(_) => CertIssue::IssuerNotFoundLocally,
        }
    }
}

impl std::fmt::Display for CertIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A certificate refusal: the issue, and the words Node uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) issue: CertIssue,
    pub(crate) message: String,
}

impl From<CertIssue> for Refusal {
    fn from(issue: CertIssue) -> Refusal {
        Refusal {
            issue,
            message: issue.message().to_owned(),
        }
    }
}

impl Refusal {
    /// The refusal as the crate's error, with Node's code.
    pub(crate) fn to_error(&self) -> Error {
        Error::new(self.issue.error_kind(), self.message.clone()).with_code(self.issue.code())
    }

    /// The refusal as a rustls error, so it survives the handshake and
    /// the request's error can carry Node's code and words.
    fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            Arc::new(RefusedCertificate(self)),
        )))
    }
}

/// A certificate refusal carried through rustls as its error's cause.
#[derive(Debug)]
pub(crate) struct RefusedCertificate(pub(crate) Refusal);

impl std::fmt::Display for RefusedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for RefusedCertificate {}

impl RefusedCertificate {
    /// The refusal inside a rustls error, if it is one of ours.
    pub(crate) fn find(e: &rustls::Error) -> Option<&Refusal> {
        match e {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                other.0.downcast_ref::<RefusedCertificate>().map(|r| &r.0)
            }
            _ => None,
        }
    }
}

/// Checks that `cert` is for `hostname`, by Node's `tls.checkServerIdentity`
/// rules:
///
/// - an IP address must be one of the certificate's IP SANs;
/// - a name must match one of its DNS SANs, case-insensitively, where a
///   `*` may stand in the first label only (not in `*.com`, nor across
///   dots, nor in a punycode label);
/// - the subject's CN is consulted only when the certificate lists no DNS
///   names at all.
///
/// Node's `tls.checkServerIdentity` as a function, for a program that
/// checks a certificate itself:
///
/// ```no_run
/// # fn f(cert: nodelike::tls::PeerCertificate) {
/// match nodelike::tls::check_server_identity("api.example.com", &cert) {
///     Ok(()) => println!("the certificate is for api.example.com"),
///     Err(e) => println!("{} ({})", e.message(), e.code()), // ERR_TLS_CERT_ALTNAME_INVALID
/// }
/// # }
/// ```
///
/// # Errors
///
/// [`ErrorKind::CertNameMismatch`] with Node's reason, for example
/// `Hostname/IP does not match certificate's altnames: Host: a.example.
/// is not in the cert's altnames: DNS:b.example`.
#[doc(alias = "checkServerIdentity")]
pub fn check_server_identity(hostname: &str, cert: &PeerCertificate) -> Result<(), Error> {
    let names = CertNames {
        subjectaltname: cert.subjectaltname.clone(),
        cn: cert.subject.cn.clone(),
    };
    identity(hostname, &names).map_err(|refusal| refusal.to_error())
}

/// The rules of [`check_server_identity`] on the two fields they read;
/// a refusal carries Node's reason.
fn identity(hostname: &str, cert: &CertNames) -> Result<(), Refusal> {
    names_match(hostname, cert).map_err(|reason| Refusal {
        issue: CertIssue::NameMismatch,
        message: format!("{}: {reason}", CertIssue::NameMismatch.message()),
    })
}

fn names_match(hostname: &str, cert: &CertNames) -> Result<(), String> {
    let mut dns_names = Vec::new();
    let mut ips = Vec::new();
    let alt_names = cert.subjectaltname.as_deref().unwrap_or("");
    for name in alt_names.split(", ").filter(|n| !n.is_empty()) {
        if let Some(dns) = name.strip_prefix("DNS:") {
            dns_names.push(dns);
        } else if let Some(ip) = name.strip_prefix("IP Address:") {
            ips.extend(parse_ip(ip));
        }
    }
    let host = hostname.strip_suffix('.').unwrap_or(hostname);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if ips.contains(&ip) {
            return Ok(());
        }
        return Err(format!(
            "IP: {bare} is not in the cert's list: {}",
            ips.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !dns_names.is_empty() {
        if dns_names.iter().any(|pattern| name_matches(host, pattern)) {
            return Ok(());
        }
        return Err(format!(
            "Host: {host}. is not in the cert's altnames: {alt_names}"
        ));
    }
    match &cert.cn {
        Some(cn) if name_matches(host, cn) => Ok(()),
        Some(cn) => Err(format!("Host: {host}. is not cert's CN: {cn}")),
        None => Err("Cert does not contain a DNS name".to_owned()),
    }
}

/// An IP as a SAN lists it; IPv6 in OpenSSL's uncompressed groups parses
/// as std reads it.
fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// Whether `host` matches the certificate name `pattern` (Node's `check`
/// with wildcards allowed).
fn name_matches(host: &str, pattern: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    let pattern = pattern.strip_suffix('.').unwrap_or(&pattern);
    let host_labels: Vec<&str> = host.split('.').collect();
    let pattern_labels: Vec<&str> = pattern.split('.').collect();
    if pattern.is_empty()
        || host_labels.len() != pattern_labels.len()
        || pattern_labels.contains(&"")
        // Non-ASCII (U-labels), controls and blanks never match.
        || pattern.bytes().any(|b| !(0x21..=0x7e).contains(&b))
    {
        return false;
    }
    // Every label but the first must be equal.
    if host_labels[1..] != pattern_labels[1..] {
        return false;
    }
    let (first_host, first_pattern) = (host_labels[0], pattern_labels[0]);
    let stars = first_pattern.matches('*').count();
    if stars == 0 || first_pattern.contains("xn--") {
        return first_host == first_pattern;
    }
    // One wildcard at most, and never directly under a top-level domain.
    if stars > 1 || pattern_labels.len() <= 2 {
        return false;
    }
    let (prefix, suffix) = first_pattern.split_once('*').unwrap_or((first_pattern, ""));
    first_host.len() >= prefix.len() + suffix.len()
        && first_host.starts_with(prefix)
        && first_host.ends_with(suffix)
}

/// The authorities a client trusts servers by, with the chain check.
#[derive(Debug)]
pub(crate) struct ServerTrust {
    roots: Arc<RootCertStore>,
    /// The authorities as given: a server certificate that is one of them
    /// is trusted as it is (a self-signed certificate passed as `ca`).
    given: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerTrust {
    pub(crate) fn new(
        roots: RootCertStore,
        given: Vec<CertificateDer<'static>>,
        provider: &CryptoProvider,
    ) -> ServerTrust {
        ServerTrust {
            roots: Arc::new(roots),
            given,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    /// The whole verdict on a server's chain for `host`: the chain first,
    /// then the name (as Node: a chain that fails is reported as such,
    /// whatever the name).
    pub(crate) fn judge(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        host: &str,
        now: UnixTime,
    ) -> Result<(), Refusal> {
        self.verify_chain(end, intermediates, now)?;
        // Only the two fields the name rules read: no digests, no other
        // field, on every client handshake.
        let names = CertNames::from_der(end).ok_or(Refusal::from(CertIssue::Other))?;
        identity(host, &names)
    }

    fn verify_chain(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), Refusal> {
        if intermediates.len() > MAX_INTERMEDIATES {
            return Err(CertIssue::ChainTooLong.into());
        }
        if self
            .given
            .iter()
            .any(|trusted| trusted.as_ref() == end.as_ref())
        {
            let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            return check_validity(end, now).map_err(|expired| {
                if expired {
                    CertIssue::Expired.into()
                } else {
                    CertIssue::NotYetValid.into()
                }
            });
        }
        let classify =
            |e: rustls::Error| Refusal::from(CertIssue::from_rustls(&e, end, intermediates));
        let parsed = rustls::server::ParsedCertificate::try_from(end).map_err(classify)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )
        .map_err(classify)
    }
}

/// The text of a server name, as Node's `checkServerIdentity` reads it.
pub(crate) fn name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        _ => String::new(),
    }
}

/// The client's verifier. With `reject_unauthorized` it refuses what
/// [`ServerTrust::judge`] refuses, with Node's code; without, it lets the
/// handshake through (handshake signatures are still checked) and the
/// transport judges afterwards, for `authorized()`.
#[derive(Debug)]
pub(crate) struct NodeServerVerifier {
    pub(crate) trust: Arc<ServerTrust>,
    pub(crate) reject_unauthorized: bool,
}

impl ServerCertVerifier for NodeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.reject_unauthorized {
            return Ok(ServerCertVerified::assertion());
        }
        self.trust
            .judge(end_entity, intermediates, &name_text(server_name), now)
            .map(|()| ServerCertVerified::assertion())
            .map_err(Refusal::into_rustls)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.trust.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.trust.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.algorithms.supported_schemes()
    }
}

/// How a server judges client certificates: webpki against its roots,
/// with the chain capped and refusals in Node's codes. `None` inside:
/// no authority is trusted at all (a server that asks without a `ca` on a
/// machine with no system roots), so every certificate is refused.
#[derive(Clone)]
pub(crate) struct ClientTrust(pub(crate) Option<Arc<dyn ClientCertVerifier>>);

impl std::fmt::Debug for ClientTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTrust")
    }
}

impl ClientTrust {
    /// The verdict on a client's chain.
    pub(crate) fn judge(
        &self,
        end: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), CertIssue> {
        if intermediates.len() > MAX_INTERMEDIATES {
            return Err(CertIssue::ChainTooLong);
        }
        match &self.0 {
            Some(verifier) => verifier
                .verify_client_cert(end, intermediates, now)
                .map(|_| ())
                .map_err(|e| CertIssue::from_rustls(&e, end, intermediates)),
            None => Err(CertIssue::leads_nowhere(end, intermediates)),
        }
    }
}

/// The server's verifier for client certificates: Node's
/// `requestCert: true` with `rejectUnauthorized` either way. Rejecting, a
/// refusal ends the handshake with Node's code (on `tls_client_error`);
/// not rejecting, every certificate is let through and judged after the
/// handshake. Either way the client's signature proving it holds the key
/// is checked.
#[derive(Debug)]
pub(crate) struct NodeClientVerifier {
    pub(crate) trust: ClientTrust,
    pub(crate) reject_unauthorized: bool,
    pub(crate) algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for NodeClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.reject_unauthorized
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.trust.0 {
            Some(v) => v.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if !self.reject_unauthorized {
            return Ok(ClientCertVerified::assertion());
        }
        self.trust
            .judge(end_entity, intermediates, now)
            .map(|()| ClientCertVerified::assertion())
            .map_err(|issue| Refusal::from(issue).into_rustls())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: Option<&str>, san: Option<&str>) -> PeerCertificate {
        PeerCertificate {
            subject: crate::tls::DistinguishedName {
                cn: cn.map(str::to_owned),
                ..Default::default()
            },
            issuer: Default::default(),
            subjectaltname: san.map(str::to_owned),
            valid_from: String::new(),
            valid_to: String::new(),
            bits: 0,
            modulus: None,
            exponent: None,
            pubkey: Vec::new(),
            fingerprint: String::new(),
            fingerprint256: String::new(),
            fingerprint512: String::new(),
            ext_key_usage: Vec::new(),
            serial_number: String::new(),
            raw: Vec::new(),
            issuer_certificate: None,
        }
    }

    /// The cases of Node's `test-tls-check-server-identity.js`, in a table:
    /// host, CN, subjectaltname, whether it matches.
    #[test]
    fn names_are_checked_as_nodes_check_server_identity_does() {
        let table: &[(&str, Option<&str>, Option<&str>, bool)] = &[
            ("a.com", Some("a.com"), None, true),
            ("a.com", Some("A.COM"), None, true),
            ("a.com", Some("b.com"), None, false),
            ("a.com", Some("a.com."), None, true),
            ("a.com.", Some("a.com"), None, true),
            ("a.com", None, None, false),
            // The CN is ignored once there are DNS names.
            ("a.com", Some("a.com"), Some("DNS:b.com"), false),
            ("b.com", Some("a.com"), Some("DNS:b.com"), true),
            // ... but not when the only SANs are of other kinds.
            ("a.com", Some("a.com"), Some("URI:http://a.com/"), true),
            // Wildcards: one, in the first label, not under a TLD.
            ("a.b.com", None, Some("DNS:*.b.com"), true),
            ("b.com", None, Some("DNS:*.b.com"), false),
            ("x.a.b.com", None, Some("DNS:*.b.com"), false),
            ("a.com", None, Some("DNS:*.com"), false),
            ("foo.b.com", None, Some("DNS:f*.b.com"), true),
            ("foo.b.com", None, Some("DNS:*o.b.com"), true),
            ("foo.b.com", None, Some("DNS:b*o.b.com"), false),
            ("foo.b.com", None, Some("DNS:*.*.com"), false),
            ("xn--a.b.com", None, Some("DNS:xn--*.b.com"), false),
            ("a.b.com", None, Some("DNS:a..b.com"), false),
            ("b.a.com", None, Some("DNS:x.a.com, DNS:b.a.com"), true),
            // IPs: SANs only, never the CN, canonical forms compared.
            ("127.0.0.1", Some("127.0.0.1"), None, false),
            ("127.0.0.1", None, Some("IP Address:127.0.0.1"), true),
            ("127.0.0.2", None, Some("IP Address:127.0.0.1"), false),
            ("::1", None, Some("IP Address:0:0:0:0:0:0:0:1"), true),
            ("[::1]", None, Some("IP Address:0:0:0:0:0:0:0:1"), true),
            ("127.0.0.1", None, Some("DNS:127.0.0.1"), false),
        ];
        for (host, cn, san, ok) in table {
            let got = check_server_identity(host, &cert(*cn, *san));
            assert_eq!(
                got.is_ok(),
                *ok,
                "{host} against CN={cn:?} SAN={san:?}: {got:?}"
            );
            if let Err(e) = got {
                assert_eq!(e.code(), "ERR_TLS_CERT_ALTNAME_INVALID");
            }
        }
    }

    #[test]
    fn reasons_read_like_nodes() {
        let e = check_server_identity("a.com", &cert(None, Some("DNS:b.com"))).unwrap_err();
        assert_eq!(
            e.message(),
            "Hostname/IP does not match certificate's altnames: \
             Host: a.com. is not in the cert's altnames: DNS:b.com"
        );
        let e = check_server_identity("1.2.3.4", &cert(None, Some("IP Address:127.0.0.1")))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "Hostname/IP does not match certificate's altnames: \
             IP: 1.2.3.4 is not in the cert's list: 127.0.0.1"
        );
        let e = check_server_identity("a.com", &cert(Some("b.com"), None)).unwrap_err();
        assert!(e
            .message()
            .ends_with("Host: a.com. is not cert's CN: b.com"));
    }
}
