//! Name resolution on a helper thread, reported back through the loop's
//! remote handle.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::{runtime, Error, ErrorKind};

use super::connect::{connect_addr, give_up_placeholder};
use super::exchange::fail;
use super::{with_state, ClientId};

/// Name resolution blocks, so it runs on a helper thread, which posts the
/// result back to the loop through its remote handle. A lookup in flight
/// keeps the loop alive.
pub(super) fn resolve_in_background(id: ClientId, host: String, port: u16) {
    let loop_handle = runtime::remote();
    runtime::add_ref();
    log::trace!("client: resolving {host} on a helper thread");
    std::thread::spawn(move || {
        let found = (host.as_str(), port).to_socket_addrs().and_then(|mut a| {
            a.next()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"))
        });
        let found = found.map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("getaddrinfo ENOTFOUND {host}: {e}"),
            )
        });
        loop_handle.post(move || resolved(id, found));
    });
}

/// A lookup came back (on the loop's thread): connect, or fail the request.
pub(super) fn resolved(id: ClientId, result: std::io::Result<SocketAddr>) {
    runtime::release_ref();
    match result {
        Ok(addr) => {
            with_state(|c| {
                if c.clients.get(id).is_some_and(|e| !e.response.is_over()) {
                    connect_addr(c, id, addr);
                } else {
                    give_up_placeholder(c, id);
                }
            });
        }
        Err(e) => {
            // The slot goes to the next queued request, which then looks
            // up (and fails) on its own, as in Node.
            with_state(|c| give_up_placeholder(c, id));
            fail(id, Error::new(ErrorKind::Dns, e.to_string()));
        }
    }
}
