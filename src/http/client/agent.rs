//! The `Agent` handle: one pool of connections per host, port and TLS
//! options (Node's `http.Agent`).

use super::*;

/// The agent for `host:port`, created on first use (Node's
/// `http.getAgent(host, port)`).
///
/// ```
/// let a = nodelike::http::get_agent("localhost", 8080);
/// assert_eq!(a, nodelike::http::get_agent("localhost", 8080));
/// ```
#[doc(alias = "getAgent")]
pub fn get_agent(host: &str, port: u16) -> Agent {
    let key = with_state(|c| agent_for(c, host, port, &TlsKey::default())).unwrap_or(usize::MAX);
    Agent {
        key,
        _loop: LoopBound::default(),
    }
}

pub(super) fn agent_for(c: &mut ClientState, host: &str, port: u16, tls: &TlsKey) -> usize {
    if let Some(i) = c
        .agents
        .iter()
        .position(|a| a.key.0 == host && a.key.1 == port && a.tls_key() == tls)
    {
        return i;
    }
    c.agents.push(AgentRec {
        key: (host.to_owned(), port),
        #[cfg(feature = "tls")]
        tls: tls.clone(),
        max_sockets: 5,
        active: Vec::new(),
        idle: Vec::new(),
        queue: VecDeque::new(),
        upgrade: Listeners::default(),
    });
    c.agents.len() - 1
}

/// The agent's `upgrade` event, for a request with no listener of its own.
pub(super) fn emit_agent_upgrade(ex: ClientId, call: impl FnMut(&mut UpgradeListener)) -> bool {
    let Some(Some(agent)) = with_state(|c| c.clients.get(ex).and_then(|e| e.agent)) else {
        return false;
    };
    // The same emit as every other event: the listeners go back even if
    // one panics.
    runtime::listeners::emit(
        |f| {
            with_state(|c| c.agents.get_mut(agent).map(|a| f(&mut a.upgrade)).is_some())
                .unwrap_or(false)
        },
        call,
    )
}

impl Agent {
    /// Adds an `upgrade` listener for this agent's requests that have none
    /// of their own (the seed's `agent.on('upgrade', ...)`).
    ///
    /// ```no_run
    /// let agent = nodelike::http::get_agent("127.0.0.1", 1337);
    /// agent.on_upgrade(|_res, socket, _head| socket.end(()));
    /// ```
    #[doc(alias = "upgrade")]
    pub fn on_upgrade(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) {
        with_state(|c| {
            if let Some(a) = c.agents.get_mut(self.key) {
                a.upgrade.push(Box::new(f));
            }
        });
    }

    /// The most sockets the agent opens at once (default 5).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("a", 1).max_sockets(), 5);
    /// ```
    pub fn max_sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.max_sockets))
            .flatten()
            .unwrap_or(0)
    }

    /// Sets [`max_sockets`](Self::max_sockets) (at least 1).
    ///
    /// ```
    /// let a = nodelike::http::get_agent("b", 1);
    /// a.set_max_sockets(1);
    /// assert_eq!(a.max_sockets(), 1);
    /// ```
    pub fn set_max_sockets(&self, n: usize) {
        with_state(|c| {
            if let Some(a) = c.agents.get_mut(self.key) {
                a.max_sockets = n.max(1);
            }
        });
    }

    /// Sockets in use (busy or connecting) right now (Node's
    /// `agent.sockets.length`).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("c", 1).sockets(), 0);
    /// ```
    pub fn sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.active.len()))
            .flatten()
            .unwrap_or(0)
    }

    /// Idle keep-alive sockets kept for reuse.
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("d", 1).idle_sockets(), 0);
    /// ```
    pub fn idle_sockets(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.idle.len()))
            .flatten()
            .unwrap_or(0)
    }

    /// Requests waiting for a socket (Node's `agent.queue.length`).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("e", 1).queue(), 0);
    /// ```
    pub fn queue(&self) -> usize {
        with_state(|c| c.agents.get(self.key).map(|a| a.queue.len()))
            .flatten()
            .unwrap_or(0)
    }
}
