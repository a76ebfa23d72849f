//! Opening connections: plain TCP, unix sockets, or TLS, and what the
//! connect's outcome means for the request.

use std::net::{IpAddr, SocketAddr};

use crate::http::keep_alive::KeepAlive;
use crate::net::{SockId, Socket, Transport};
#[cfg(feature = "tls")]
use crate::ErrorKind;
use crate::{net, Error};

use super::exchange::fail;
use super::options::RequestOptions;
use super::pool::{announce_socket, pump};
use super::resolve::resolve_in_background;
#[cfg(feature = "tls")]
use super::ClientExchange;
use super::{with_state, ClientConn, ClientId, ClientReading, ClientState, InUse, PROTOCOL};

pub(super) fn connect(c: &mut ClientState, id: ClientId, agent: Option<usize>, o: &RequestOptions) {
    if let Some(path) = &o.socket_path {
        let transport = net::connect_unix(path).map_err(Error::from);
        start_socket(
            c,
            id,
            agent,
            transport.map(|t| (t, None)),
            Start::Connecting,
        );
        return;
    }
    #[cfg(test)]
    if c.memory_peers.is_some() {
        let (pipe, transport) = crate::net::MemoryConnection::pipe();
        start_socket(c, id, agent, Ok((transport, None)), Start::InMemory);
        let sock = c.clients.get(id).and_then(|e| e.socket);
        if let (Some(sock), Some(peers)) = (sock, c.memory_peers.as_mut()) {
            peers.push(crate::net::MemoryConnection::new(sock, pipe));
        }
        // Connected from the start: what a queued request wrote goes out
        // (a TCP connection does this when its connect completes).
        pump(c, id);
        return;
    }
    if let Some(a) = agent {
        // Count the connection as in use while it resolves and connects.
        c.agents[a].active.push(InUse::Resolving(id));
    }
    let host = o.host.trim_start_matches('[').trim_end_matches(']');
    let literal = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        host.parse::<IpAddr>().ok()
    };
    match literal {
        Some(ip) => connect_addr(c, id, SocketAddr::new(ip, o.port)),
        None => resolve_in_background(id, o.host.clone(), o.port),
    }
}

/// Drops the "connecting" placeholder an agent counts for `id`.
pub(super) fn release_placeholder(c: &mut ClientState, id: ClientId) {
    let agent = c.clients.get(id).and_then(|e| e.agent);
    if let Some(a) = agent {
        c.agents[a].active.retain(|s| *s != InUse::Resolving(id));
    }
}

/// Drops the placeholder of a request that will not connect after all (its
/// lookup failed, or it was aborted, destroyed or timed out while
/// resolving), and gives the slot it held to the next queued request: a
/// queue behind a failed lookup is never stranded.
pub(super) fn give_up_placeholder(c: &mut ClientState, id: ClientId) {
    let agent = c.clients.get(id).and_then(|e| e.agent);
    let held = agent.is_some_and(|a| {
        c.agents
            .get(a)
            .is_some_and(|rec| rec.active.contains(&InUse::Resolving(id)))
    });
    release_placeholder(c, id);
    if let (Some(a), true) = (agent, held) {
        super::pool::start_next(c, a);
    }
}

pub(super) fn connect_addr(c: &mut ClientState, id: ClientId, addr: SocketAddr) {
    release_placeholder(c, id);
    #[cfg(feature = "tls")]
    let tls = c.clients.get(id).and_then(|e| {
        let options = e.options.as_ref()?;
        let tls = options.tls.clone()?;
        let name = server_name(&tls, e, &options.host);
        Some((tls, name))
    });
    #[cfg(feature = "tls")]
    let transport = match tls {
        Some((tls, name)) => crate::net::tls::client_tls(&tls).and_then(|config| {
            let name = rustls::pki_types::ServerName::try_from(name).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("invalid server name: {e}"),
                )
            })?;
            net::connect_tls(addr, config, name).map_err(Error::from)
        }),
        None => net::connect_tcp(addr).map_err(Error::from),
    };
    #[cfg(not(feature = "tls"))]
    let transport = net::connect_tcp(addr).map_err(Error::from);
    let transport = transport.map(|t| (t, Some(addr)));
    let agent = c.clients.get(id).and_then(|e| e.agent);
    start_socket(c, id, agent, transport, Start::Connecting);
}

/// The name a TLS connection asks for (SNI) and checks the certificate
/// against, by Node's rule (`calculateServerName`): `servername` if given,
/// else the host of the request's `Host` header, else the request's host.
#[cfg(feature = "tls")]
fn server_name(tls: &crate::net::tls::ClientTlsOptions, ex: &ClientExchange, host: &str) -> String {
    if let Some(name) = &tls.servername {
        return name.trim_matches(['[', ']']).to_owned();
    }
    let host_header = ex.set_headers.first("host");
    let name = match host_header {
        // `[::1]:8443` is `::1`; `example.com:8443` is `example.com`.
        Some(h) if h.starts_with('[') => match h.find(']') {
            Some(end) => &h[1..end],
            None => h,
        },
        Some(h) => h.split(':').next().unwrap_or(h),
        None => host,
    };
    name.trim_matches(['[', ']']).to_owned()
}

/// How a new client socket starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// A connect is under way; the request is written once it is up.
    Connecting,
    /// Connected from the start, and driven by hand (it does not keep the
    /// loop alive).
    InMemory,
}

pub(super) fn start_socket(
    c: &mut ClientState,
    id: ClientId,
    agent: Option<usize>,
    transport: Result<(Box<dyn Transport>, Option<SocketAddr>), Error>,
    start: Start,
) {
    let timeout = c.clients.get(id).and_then(|e| e.timeout);
    let opened = transport.and_then(|(transport, addr)| {
        net::open(
            transport,
            addr,
            net::Open {
                protocol: &PROTOCOL,
                idle_timeout: timeout,
                connecting: start == Start::Connecting,
                unref: start == Start::InMemory,
            },
        )
        .map_err(Error::from)
    });
    let sock = match opened {
        Ok(sock) => sock,
        Err(err) => {
            crate::next_tick(move || fail(id, err));
            return;
        }
    };
    c.conns.insert(
        sock,
        ClientConn {
            agent,
            ex: Some(id),
            reading: ClientReading::Head,
            keep_alive: KeepAlive::default(),
        },
    );
    if let Some(a) = agent {
        c.agents[a].active.push(InUse::Socket(sock));
    }
    if let Some(ex) = c.clients.get_mut(id) {
        ex.attach_socket(sock);
    }
    announce_socket(id);
    log::trace!("client: socket {} connecting", sock.key);
}

/// Reading the socket failed: a TLS handshake refused (with Node's code),
/// or a reset. The request learns why before the socket closes.
pub(super) fn on_failed(sock: SockId, e: &std::io::Error) {
    #[cfg(feature = "tls")]
    if let Some(err) = crate::net::tls::handshake_error(e, crate::net::tls::Role::Client) {
        let ex =
            with_state(|c| c.conns.get_mut(sock).and_then(|conn| conn.take_exchange())).flatten();
        if let Some(ex) = ex {
            fail(ex, err);
        }
        return;
    }
    log::debug!("client: socket {} failed: {e}", sock.key);
}

/// The connect finished (`net` destroys the socket after a failure).
pub(super) fn on_connected(sock: SockId, result: std::io::Result<()>) {
    match result {
        Ok(()) => {
            log::trace!("client: socket {} connected", sock.key);
            with_state(|c| {
                if let Some(ex) = c.conns.get(sock).and_then(|conn| conn.ex) {
                    pump(c, ex);
                }
            });
        }
        Err(e) => {
            log::debug!("client: socket {} connect failed: {e}", sock.key);
            let ex = with_state(|c| c.conns.get_mut(sock).and_then(|conn| conn.take_exchange()))
                .flatten();
            if let Some(ex) = ex {
                // Node's wording: `connect ECONNREFUSED 127.0.0.1:8000`,
                // with the io error kept as the source.
                let address = Socket::from_id(sock)
                    .remote_address()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                fail(ex, Error::syscall("connect", e, &address));
            }
        }
    }
}
