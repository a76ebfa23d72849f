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

mod certificate;
mod config;
mod trust;

pub use certificate::{DistinguishedName, PeerCertificate};
pub(crate) use config::{
    client_tls, client_tls_for, handshake_error, server_tls, ClientAlpn, ClientCerts, ClientTls,
    Role, ServerTls,
};
pub use config::{ClientTlsOptions, ServerOptions, SniContext};
use trust::ClientTrust;
pub use trust::{check_server_identity, CertIssue};
use trust::{name_text, ServerTrust};

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
    /// Who judges the peer's certificate once the handshake is done.
    judge: Judge,
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

/// Who decides `authorized` for a connection, and when.
enum Judge {
    /// The handshake itself verified the peer (a client with
    /// `reject_unauthorized`, a server that requires certificates): a
    /// certificate that got through is trusted.
    Handshake,
    /// A server that asks for certificates without requiring them: the
    /// client's chain is judged after the handshake.
    ClientAfter(ClientTrust),
    /// A client with `reject_unauthorized: false`: the server's chain and
    /// name are judged after the handshake, so `authorized()` tells the
    /// truth although the request goes on.
    ServerAfter(Arc<ServerTrust>, rustls::pki_types::ServerName<'static>),
    /// A server that does not ask: nothing to judge.
    Nothing,
}

impl TlsTransport {
    /// The server side of a new connection.
    pub(crate) fn server(
        tcp: TcpStream,
        config: Arc<rustls::ServerConfig>,
        client_certs: ClientCerts,
    ) -> io::Result<TlsTransport> {
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsTransport {
            tcp,
            tls: conn.into(),
            connecting: false,
            closing: false,
            tcp_shut: false,
            judge: match client_certs {
                ClientCerts::JudgedAfter(trust) => Judge::ClientAfter(trust),
                ClientCerts::Required => Judge::Handshake,
                ClientCerts::NotAsked => Judge::Nothing,
            },
            handshake_done: false,
            secured_untold: false,
            authorization: None,
            tcp_drained: false,
        })
    }

    /// The client side of a connection being made to `name`.
    pub(crate) fn client(
        tcp: TcpStream,
        tls: ClientTls,
        name: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<TlsTransport> {
        let judge = match tls.judge_after {
            Some(trust) => Judge::ServerAfter(trust, name.clone()),
            None => Judge::Handshake,
        };
        let mut conn = rustls::ClientConnection::new(tls.config, name).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsTransport {
            tcp,
            tls: conn.into(),
            connecting: true,
            closing: false,
            tcp_shut: false,
            judge,
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
        let now = rustls::pki_types::UnixTime::now();
        self.authorization = match (&self.judge, self.tls.peer_certificates()) {
            (Judge::Nothing, _) => None,
            (_, None | Some([])) => Some(Err(CertIssue::NoCertificate)),
            (Judge::Handshake, Some(_)) => Some(Ok(())),
            (Judge::ClientAfter(trust), Some([end, rest @ ..])) => {
                Some(trust.judge(end, rest, now))
            }
            (Judge::ServerAfter(trust, name), Some([end, rest @ ..])) => Some(
                trust
                    .judge(end, rest, &name_text(name), now)
                    .map_err(|refusal| refusal.issue),
            ),
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
    tls: ClientTls,
    name: rustls::pki_types::ServerName<'static>,
) -> io::Result<Box<dyn Transport>> {
    let tcp = TcpStream::connect(addr)?;
    let _ = tcp.set_nodelay(true);
    Ok(Box::new(TlsTransport::client(tcp, tls, name)?))
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
