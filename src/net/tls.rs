//! TLS as one more transport: rustls over a TCP stream.
//!
//! Nothing above `net` changes for TLS: an HTTPS connection is an HTTP
//! connection whose socket's transport decrypts on `read` and encrypts on
//! `write`. What TLS changes is said through the [`Transport`] trait:
//!
//! - a short read of plaintext does not by itself mean the socket is
//!   drained (rustls may hold more decrypted bytes than one read returns).
//!   What does is a short read of the TCP socket underneath with nothing
//!   left decrypted: the transport watches for that, so the read that
//!   would only say `WouldBlock` is skipped, as on plain TCP (two
//!   `recvfrom` calls saved per handshake);
//! - ciphertext can be pending after every plaintext byte was accepted, so
//!   `flush` reports whether it has all gone (the handshake writes too);
//! - shutting down writes `close_notify` first, and the TCP side is shut
//!   only once it has gone;
//! - a TCP end without `close_notify` is a truncation: reads report it as
//!   `UnexpectedEof`, which `net` records so a protocol can tell it from a
//!   clean end.
//!
//! Plaintext accepted by rustls is bounded (`TLS_BUFFER_LIMIT`): past it a
//! write says `WouldBlock`, the bytes stay in the socket's own output, and
//! back-pressure (`write` returning `false`, then `drain`) holds as on TCP.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;

use super::transport::Transport;

/// How much plaintext rustls buffers ahead of the network.
const TLS_BUFFER_LIMIT: usize = 16 * 1024;

/// A TLS session over a TCP stream, server or client side.
pub(crate) struct TlsTransport {
    tcp: TcpStream,
    tls: rustls::Connection,
    /// A client's TCP connect is still under way.
    connecting: bool,
    /// `close_notify` was queued: shut the TCP side once it has gone.
    closing: bool,
    tcp_shut: bool,
    /// Decides `authorized` once the handshake is done, for a server that
    /// asks for certificates without rejecting bad ones.
    client_auth: Option<ClientAuthCheck>,
    /// The handshake finished (checked once).
    handshake_done: bool,
    /// ... and `net` has not been told yet.
    secured_untold: bool,
    authorization: Option<Result<(), CertIssue>>,
    /// The last `read` ended on a TCP read that returned less than rustls
    /// offered room for, with no plaintext left: the kernel's buffer is
    /// empty, and the next edge announces more.
    tcp_drained: bool,
}

/// The TCP stream as rustls reads it, noting whether a read came back short
/// (the socket drained, on Linux's edge-triggered readiness).
struct NoteShortRead<'a> {
    tcp: &'a mut TcpStream,
    short: bool,
}

impl Read for NoteShortRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = Read::read(self.tcp, buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// A verifier kept to judge a client's certificate after the handshake,
/// when the handshake itself let any certificate through.
#[derive(Clone)]
pub(crate) struct ClientAuthCheck(pub(crate) Arc<dyn rustls::server::danger::ClientCertVerifier>);

impl std::fmt::Debug for ClientAuthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientAuthCheck")
    }
}

impl TlsTransport {
    /// The server side of a new connection.
    pub(crate) fn server(
        tcp: TcpStream,
        config: Arc<rustls::ServerConfig>,
        client_auth: Option<ClientAuthCheck>,
    ) -> io::Result<TlsTransport> {
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsTransport {
            tcp,
            tls: conn.into(),
            connecting: false,
            closing: false,
            tcp_shut: false,
            client_auth,
            handshake_done: false,
            secured_untold: false,
            authorization: None,
            tcp_drained: false,
        })
    }

    /// The client side of a connection being made to `name`.
    pub(crate) fn client(
        tcp: TcpStream,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<TlsTransport> {
        let mut conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsTransport {
            tcp,
            tls: conn.into(),
            connecting: true,
            closing: false,
            tcp_shut: false,
            client_auth: None,
            handshake_done: false,
            secured_untold: false,
            authorization: None,
            tcp_drained: false,
        })
    }

    /// Writes pending ciphertext; `Ok(true)` once none is left.
    fn flush_tls(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.closing && !self.tcp_shut {
            self.tcp_shut = true;
            let _ = self.tcp.shutdown(std::net::Shutdown::Write);
        }
        Ok(true)
    }

    /// Once the handshake is over: judge a client certificate the
    /// handshake let through.
    fn note_handshake(&mut self) {
        if self.handshake_done || self.tls.is_handshaking() {
            return;
        }
        self.handshake_done = true;
        self.secured_untold = true;
        log::trace!(
            "tls: handshake done ({:?}, {:?})",
            self.tls.protocol_version(),
            self.tls.negotiated_cipher_suite().map(|s| s.suite())
        );
        self.authorization = match (&self.client_auth, self.tls.peer_certificates()) {
            // Asked for, not required: judged now.
            (Some(ClientAuthCheck(verifier)), Some([end, rest @ ..])) => Some(
                verifier
                    .verify_client_cert(end, rest, rustls::pki_types::UnixTime::now())
                    .map(|_| ())
                    .map_err(|e| CertIssue::from_rustls(&e, end, rest)),
            ),
            (Some(_), _) => Some(Err(CertIssue::NoCertificate)),
            // Otherwise a certificate that got through the handshake was
            // verified by it; none asked for, none judged.
            (None, Some(certs)) if !certs.is_empty() => Some(Ok(())),
            (None, _) => None,
        };
    }
}

impl Transport for TlsTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp_drained = false;
        loop {
            match self.tls.reader().read(buf) {
                // Plaintext that did not fill `buf` was all rustls had.
                Ok(n) => return Ok(n), // 0: close_notify, a clean end
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e), // UnexpectedEof: truncated
            }
            if self.tcp_drained {
                // Nothing decrypted, and the socket is empty: a handshake
                // step, answered by the flush below. Don't ask the kernel
                // again only to hear `WouldBlock`.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut tcp = NoteShortRead {
                tcp: &mut self.tcp,
                short: false,
            };
            let read = self.tls.read_tls(&mut tcp);
            self.tcp_drained = tcp.short && matches!(read, Ok(n) if n > 0);
            match read {
                Ok(_) => {} // 0 is the TCP end: the reader says how it ended
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.flush_tls()?;
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.tls.process_new_packets() {
                // The alert describing the failure goes out before we give
                // up on the connection.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, TlsFailure(e)));
            }
            self.note_handshake();
            self.flush_tls()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_tls()?;
        let n = self.tls.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<bool> {
        self.flush_tls()
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        if !self.closing {
            self.closing = true;
            self.tls.send_close_notify();
        }
        self.flush_tls().map(|_| ())
    }

    fn short_read_drains(&self) -> bool {
        // Asked after a read that returned less than asked: all the
        // plaintext was handed over, so the TCP side decides.
        self.tcp_drained
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(&mut self.tcp)
    }

    fn finish_connect(&mut self) -> io::Result<bool> {
        if !self.connecting {
            return Ok(true);
        }
        let up = Transport::finish_connect(&mut self.tcp)?;
        if up {
            self.connecting = false;
            // The ClientHello leaves now; the handshake goes on as bytes
            // flow both ways.
            self.flush_tls()?;
        }
        Ok(up)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.tcp.set_nodelay(on)
    }

    fn set_keepalive(&self, idle: Option<std::time::Duration>) -> io::Result<()> {
        Transport::set_keepalive(&self.tcp, idle)
    }

    fn take_secured(&mut self) -> bool {
        std::mem::take(&mut self.secured_untold)
    }

    fn tls(&self) -> Option<TlsState<'_>> {
        Some(TlsState {
            peer_certificates: self
                .tls
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.as_ref()).collect()),
            authorization: self.authorization,
            alpn_protocol: self.tls.alpn_protocol().map(<[u8]>::to_vec),
            server_name: match &self.tls {
                rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
                rustls::Connection::Client(_) => None,
            },
            resumed: self.tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        })
    }
}

/// Starts a TLS connection to `addr`, checking its certificate for `name`.
pub(crate) fn connect_tls(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
) -> io::Result<Box<dyn Transport>> {
    let tcp = TcpStream::connect(addr)?;
    let _ = tcp.set_nodelay(true);
    Ok(Box::new(TlsTransport::client(tcp, config, name)?))
}

/// What a TLS transport can say about its session.
#[derive(Debug, Clone)]
pub(crate) struct TlsState<'a> {
    /// The peer's chain, end entity first (DER).
    pub(crate) peer_certificates: Option<Vec<&'a [u8]>>,
    /// For a server that asks for client certificates: whether the one
    /// presented checks out (`None` when it does not ask).
    pub(crate) authorization: Option<Result<(), CertIssue>>,
    pub(crate) alpn_protocol: Option<Vec<u8>>,
    /// The SNI name the client asked for (server side).
    pub(crate) server_name: Option<String>,
    /// The session was resumed (an abbreviated handshake).
    pub(crate) resumed: bool,
}

/// A rustls failure, kept whole as an I/O error's source.
#[derive(Debug)]
pub(crate) struct TlsFailure(pub(crate) rustls::Error);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TlsFailure {}

/// Why a certificate did not check out, with Node's code for it.
///
/// ```
/// use nodelike::tls::CertIssue;
/// assert_eq!(CertIssue::Expired.code(), "CERT_HAS_EXPIRED");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertIssue {
    /// No certificate was presented.
    NoCertificate,
    /// A self-signed certificate that is not trusted
    /// (`DEPTH_ZERO_SELF_SIGNED_CERT`).
    SelfSigned,
    /// Not issued by a trusted authority (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`).
    UnknownIssuer,
    /// Past its `notAfter` (`CERT_HAS_EXPIRED`).
    Expired,
    /// Before its `notBefore` (`CERT_NOT_YET_VALID`).
    NotYetValid,
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
            CertIssue::UnknownIssuer => "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            CertIssue::Expired => "CERT_HAS_EXPIRED",
            CertIssue::NotYetValid => "CERT_NOT_YET_VALID",
            CertIssue::NameMismatch => "ERR_TLS_CERT_ALTNAME_INVALID",
            CertIssue::Revoked => "CERT_REVOKED",
            CertIssue::Other => "CERT_REJECTED",
        }
    }

    /// Classifies a rustls verification error for the chain `end, rest`.
    pub(crate) fn from_rustls(
        e: &rustls::Error,
        end: &[u8],
        rest: &[rustls::pki_types::CertificateDer<'_>],
    ) -> CertIssue {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer if rest.is_empty() && is_self_signed(end) => CertIssue::SelfSigned,
                C::UnknownIssuer => CertIssue::UnknownIssuer,
                C::Expired | C::ExpiredContext { .. } => CertIssue::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => CertIssue::NotYetValid,
                C::NotValidForName | C::NotValidForNameContext { .. } => CertIssue::NameMismatch,
                C::Revoked => CertIssue::Revoked,
                _ => CertIssue::Other,
            },
            rustls::Error::NoCertificatesPresented => CertIssue::NoCertificate,
            _ => CertIssue::Other,
        }
    }
}

impl std::fmt::Display for CertIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether a DER certificate names itself as its issuer.
fn is_self_signed(der: &[u8]) -> bool {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject() == cert.issuer(),
        Err(_) => false,
    }
}

/// A certificate as Node's `getPeerCertificate()` describes it.
///
/// ```no_run
/// # fn f(req: nodelike::http::IncomingMessage) {
/// if let Some(cert) = req.connection().peer_certificate() {
///     println!("{} issued by {}", cert.subject.cn.unwrap_or_default(), cert.issuer.cn.unwrap_or_default());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// Whom the certificate is for.
    pub subject: DistinguishedName,
    /// Who issued it.
    pub issuer: DistinguishedName,
    /// `notBefore`, as Node prints it (`Nov 25 03:00:00 2026 GMT`).
    pub valid_from: String,
    /// `notAfter`, as Node prints it.
    pub valid_to: String,
    /// SHA-256 of the DER, as colon-separated upper-case hex (Node's
    /// `fingerprint256`).
    pub fingerprint256: String,
    /// The serial number in upper-case hex (Node's `serialNumber`).
    pub serial_number: String,
    /// The certificate itself, DER-encoded (Node's `raw`).
    pub raw: Vec<u8>,
}

/// The parts of a distinguished name Node's certificate objects show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    /// Common name (`CN`).
    pub cn: Option<String>,
    /// Organisation (`O`).
    pub o: Option<String>,
    /// Organisational unit (`OU`).
    pub ou: Option<String>,
    /// Country (`C`).
    pub c: Option<String>,
    /// State or province (`ST`).
    pub st: Option<String>,
    /// Locality (`L`).
    pub l: Option<String>,
}

impl PeerCertificate {
    /// Parses a DER certificate (`None` if it is not one).
    ///
    /// ```
    /// assert!(nodelike::tls::PeerCertificate::from_der(b"not a certificate").is_none());
    /// ```
    pub fn from_der(der: &[u8]) -> Option<PeerCertificate> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let name = |n: &x509_parser::x509::X509Name<'_>| {
            let first =
                |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
                    it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
                };
            DistinguishedName {
                cn: first(&mut n.iter_common_name()),
                o: first(&mut n.iter_organization()),
                ou: first(&mut n.iter_organizational_unit()),
                c: first(&mut n.iter_country()),
                st: first(&mut n.iter_state_or_province()),
                l: first(&mut n.iter_locality()),
            }
        };
        let digest = ring_sha256(der);
        Some(PeerCertificate {
            subject: name(cert.subject()),
            issuer: name(cert.issuer()),
            valid_from: node_time(cert.validity().not_before.timestamp()),
            valid_to: node_time(cert.validity().not_after.timestamp()),
            fingerprint256: digest
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":"),
            serial_number: cert
                .raw_serial()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect(),
            raw: der.to_vec(),
        })
    }
}

/// SHA-256 (ring: the provider rustls already uses).
fn ring_sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A Unix time as OpenSSL prints it in Node's certificate objects:
/// `Mar  1 00:00:00 2027 GMT`.
fn node_time(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_openssl_prints_them() {
        assert_eq!(node_time(0), "Jan  1 00:00:00 1970 GMT");
        assert_eq!(node_time(1_795_000_000), "Nov 18 11:06:40 2026 GMT");
        assert_eq!(node_time(951_782_400), "Feb 29 00:00:00 2000 GMT");
    }
}
