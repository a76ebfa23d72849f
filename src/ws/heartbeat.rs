//! `ws`'s "detect broken connections" recipe as one call: a peer that
//! vanished without a FIN (a pulled cable, a sleeping laptop, a NAT that
//! forgot the flow) never closes the socket, so the server pings, and a
//! connection whose previous ping got no pong is terminated.

use std::cell::Cell;
use std::rc::Rc;

use super::websocket::{ReadyState, WebSocket};
use crate::runtime::Timer;

/// A running heartbeat, made by [`WebSocket::heartbeat`]; it stops by
/// itself when the connection closes.
///
/// ```no_run
/// # fn f(ws: nodelike::ws::WebSocket) {
/// let heartbeat = ws.heartbeat(30_000);
/// // ... later, if the application wants to stop it early:
/// heartbeat.stop();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Heartbeat {
    timer: Rc<Cell<Option<Timer>>>,
}

impl Heartbeat {
    /// Stops pinging (the connection stays open).
    ///
    /// ```no_run
    /// # fn f(ws: nodelike::ws::WebSocket) {
    /// ws.heartbeat(30_000).stop();
    /// # }
    /// ```
    pub fn stop(&self) {
        if let Some(t) = self.timer.take() {
            crate::clear_interval(t);
        }
    }
}

impl WebSocket {
    /// Pings the peer every `interval_ms` and terminates the connection
    /// when a ping went unanswered for a whole interval (`ws`'s README
    /// recipe: `isAlive` set by `pong`, checked before each ping).
    ///
    /// ```no_run
    /// use nodelike::ws::{ServerOptions, WebSocketServer};
    /// let wss = WebSocketServer::new(ServerOptions { port: Some(8080), ..Default::default() });
    /// wss.on_connection(|ws, _req| {
    ///     ws.heartbeat(30_000);
    /// });
    /// nodelike::run();
    /// ```
    pub fn heartbeat(&self, interval_ms: u64) -> Heartbeat {
        let alive = Rc::new(Cell::new(true));
        let heard = alive.clone();
        self.on_pong(move |_| heard.set(true));
        let ws = *self;
        let timer = crate::set_interval(
            move || {
                if ws.ready_state() != ReadyState::Open {
                    return;
                }
                if !alive.replace(false) {
                    log::debug!("websocket: no pong within the heartbeat; terminating");
                    ws.terminate();
                    return;
                }
                ws.ping("");
            },
            interval_ms,
        );
        let heartbeat = Heartbeat {
            timer: Rc::new(Cell::new(Some(timer))),
        };
        let stopper = heartbeat.clone();
        self.on_close(move |_, _| stopper.stop());
        heartbeat
    }
}
