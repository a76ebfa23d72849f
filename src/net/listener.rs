//! Listening sockets and the accept loop.
//!
//! A listener belongs to whoever opened it (an HTTP server); each accepted
//! connection goes to that owner's [`Acceptor`], which decides whether to
//! keep it and with which protocol. Out of file descriptors (`EMFILE`), the
//! pending connection stays in the kernel's backlog and epoll will not
//! announce it again, so accepting is retried on a timer: one retry per
//! listener at a time, however many readiness events arrive meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use super::transport::{Accepted, Listener};
use super::with_net;
use crate::runtime::{self, IoHandler, Readiness, SourceKey, Work};

/// How long to wait before accepting again after running out of file
/// descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The owner's side of a listener.
#[derive(Debug)]
pub(crate) struct Acceptor {
    /// A connection arrived: `(owner, stream, peer address)`. The owner
    /// opens a socket for it (or drops it to refuse).
    pub(crate) accept: fn(u64, Accepted, Option<SocketAddr>),
}

/// A listening socket's record.
pub(crate) struct ListenerRec {
    gen: u32,
    listener: Listener,
    source: SourceKey,
    acceptor: &'static Acceptor,
    /// The owner's context, passed to `acceptor.accept`.
    owner: u64,
    /// An accept retry is scheduled (after `EMFILE`).
    retry_scheduled: bool,
}

/// Key and generation of a listener record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListenerId {
    key: u32,
    gen: u32,
}

impl ListenerId {
    fn ctx(self) -> u64 {
        u64::from(self.key) | (u64::from(self.gen) << 32)
    }

    fn from_ctx(ctx: u64) -> ListenerId {
        ListenerId {
            key: ctx as u32,
            gen: (ctx >> 32) as u32,
        }
    }
}

impl super::Net {
    fn listener(&mut self, id: ListenerId) -> Option<&mut ListenerRec> {
        self.listeners
            .get_mut(id.key as usize)
            .filter(|l| l.gen == id.gen)
    }
}

static LISTENER_IO: IoHandler = IoHandler {
    ready: on_ready,
    on_panic: runtime_nothing,
};

fn runtime_nothing(_: u64) {}

/// Starts accepting on `listener`; every connection goes to
/// `acceptor.accept(owner, ..)`. A listening socket keeps the loop alive.
pub(crate) fn listen(
    mut listener: Listener,
    acceptor: &'static Acceptor,
    owner: u64,
) -> std::io::Result<ListenerId> {
    let gen = runtime::next_gen();
    let id = with_net(|net| {
        let entry = net.listeners.vacant_entry();
        let id = ListenerId {
            key: entry.key() as u32,
            gen,
        };
        let source = runtime::register(
            listener.source(),
            mio::Interest::READABLE,
            &LISTENER_IO,
            id.ctx(),
        )?;
        entry.insert(ListenerRec {
            gen,
            listener,
            source,
            acceptor,
            owner,
            retry_scheduled: false,
        });
        runtime::add_ref();
        Ok::<_, std::io::Error>(id)
    })
    .unwrap_or_else(|| Err(std::io::ErrorKind::NotConnected.into()))?;
    Ok(id)
}

/// Stops listening and closes the socket (a unix socket's file is
/// removed).
/// Accepts, now, every connection the kernel has queued for listener `id`
/// (completed handshakes not yet accepted). A server that is about to close
/// its listener calls it first: closing a listener resets the connections
/// still queued on it, and a client (a load balancer) may already have
/// sent a request on one.
pub(crate) fn accept_pending(id: ListenerId) {
    accept_all(id);
}

pub(crate) fn close_listener(id: ListenerId) {
    let rec = with_net(|net| {
        net.listener(id)?;
        Some(net.listeners.remove(id.key as usize))
    })
    .flatten();
    if let Some(mut rec) = rec {
        runtime::deregister(rec.listener.source(), rec.source);
        runtime::release_ref();
    }
}

/// The address a listener is bound to (`None` for unix sockets).
pub(crate) fn listener_address(id: ListenerId) -> Option<SocketAddr> {
    with_net(|net| net.listener(id).and_then(|l| l.listener.local_addr())).flatten()
}

fn on_ready(ctx: u64, _ready: Readiness) {
    accept_all(ListenerId::from_ctx(ctx));
}

fn retry_ctx(ctx: u64) {
    let id = ListenerId::from_ctx(ctx);
    with_net(|net| {
        if let Some(l) = net.listener(id) {
            l.retry_scheduled = false;
        }
    });
    accept_all(id);
}

/// Accepts every pending connection, handing each to the owner.
fn accept_all(id: ListenerId) {
    loop {
        let accepted = with_net(|net| {
            let l = net.listener(id)?;
            Some((l.listener.accept(), l.acceptor, l.owner))
        })
        .flatten();
        match accepted {
            None => break,
            Some((Ok((stream, addr)), acceptor, owner)) => (acceptor.accept)(owner, stream, addr),
            Some((Err(e), ..)) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Some((Err(e), ..)) if matches!(e.raw_os_error(), Some(23) | Some(24)) => {
                // EMFILE/ENFILE: retry on a timer rather than spin, and only
                // once per listener however often readiness arrives.
                let schedule = with_net(|net| {
                    net.listener(id)
                        .is_some_and(|l| !std::mem::replace(&mut l.retry_scheduled, true))
                })
                .unwrap_or(false);
                if schedule {
                    log::warn!("listener {}: accept: {e}; retrying in 100 ms", id.key);
                    runtime::schedule(
                        runtime::now() + ACCEPT_RETRY,
                        Work::new(retry_ctx, id.ctx()),
                    );
                }
                break;
            }
            Some((Err(e), ..)) => log::debug!("listener {}: accept: {e}", id.key),
        }
    }
}
