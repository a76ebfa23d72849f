//! The `Agent` handle: one pool of connections per host, port and TLS
//! options (Node's `http.Agent`).

use std::collections::VecDeque;
use std::time::Duration;

use crate::net::{Cause, SockId, Socket};
use crate::runtime::listeners::Listeners;
use crate::runtime::LoopBound;
use crate::{net, runtime, Error, ErrorKind};

use super::exchange::fail_now;
use super::options::RequestOptions;
use super::pool::start_next;
use super::{
    with_state, Agent, AgentRec, AgentScope, ClientId, ClientResponse, ClientState, FreeListener,
    InUse, InstanceRec, TlsKey, UpgradeListener,
};

/// The global agent's pool for `host:port`, created on first use (Node's
/// `http.getAgent(host, port)`).
///
/// ```
/// let a = nodelike::http::get_agent("localhost", 8080);
/// assert_eq!(a, nodelike::http::get_agent("localhost", 8080));
/// ```
#[doc(alias = "getAgent")]
pub fn get_agent(host: &str, port: u16) -> Agent {
    let key =
        with_state(|c| agent_for(c, None, host, port, &TlsKey::default())).unwrap_or(usize::MAX);
    Agent {
        scope: AgentScope::Host(key),
        _loop: LoopBound::default(),
    }
}

/// The global agent (Node's `http.globalAgent`): what requests use unless
/// their options name another agent or none. Node 20's defaults:
/// keep-alive, no limit on sockets per host, free sockets closed after
/// 5 s idle ([`AGENT_IDLE_TIMEOUT_MS`](crate::http::AGENT_IDLE_TIMEOUT_MS)).
/// The seed's v0.4 agent allowed 5 sockets per host; a program that wants
/// that bound sets it with [`Agent::set_max_sockets`].
///
/// ```
/// let global = nodelike::http::global_agent();
/// assert_eq!(global.max_sockets(), usize::MAX); // Node 20: Infinity
/// assert_eq!(nodelike::http::RequestOptions::default().agent, Some(global));
/// ```
#[doc(alias = "globalAgent")]
pub fn global_agent() -> Agent {
    Agent {
        scope: AgentScope::Global,
        _loop: LoopBound::default(),
    }
}

/// Options for [`Agent::new`] (Node's `new http.Agent(options)`), with
/// Node's defaults.
///
/// ```
/// use nodelike::http::AgentOptions;
/// let o = AgentOptions::default();
/// assert!(!o.keep_alive);
/// assert_eq!((o.max_free_sockets, o.keep_alive_msecs), (256, 1000));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOptions {
    /// Keep sockets open after a response, for the next request to the
    /// same host (Node's `keepAlive`; default `false`: each request sends
    /// `Connection: close`).
    pub keep_alive: bool,
    /// With `keep_alive`, the initial delay of TCP keep-alive probes on the
    /// agent's sockets, in milliseconds (Node's `keepAliveMsecs`, 1000).
    pub keep_alive_msecs: u64,
    /// Sockets per host at once; more requests queue (Node's `maxSockets`,
    /// default unlimited).
    pub max_sockets: usize,
    /// Idle sockets kept per host; more are closed (Node's
    /// `maxFreeSockets`, 256).
    pub max_free_sockets: usize,
    /// The idle timeout of the agent's sockets while they carry a request,
    /// in milliseconds (Node's `timeout`; `None`: none).
    pub timeout: Option<u64>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            keep_alive: false,
            keep_alive_msecs: 1000,
            max_sockets: usize::MAX,
            max_free_sockets: 256,
            timeout: None,
        }
    }
}

/// What a pool does with its sockets: from its agent instance, or the
/// global agent's.
pub(super) struct PoolSettings {
    pub(super) keep_alive: bool,
    pub(super) keep_alive_msecs: Option<u64>,
    pub(super) max_free: usize,
    pub(super) timeout: Option<Duration>,
}

pub(super) fn pool_settings(c: &ClientState, owner: Option<usize>) -> PoolSettings {
    match owner.and_then(|i| c.instances.get(i)) {
        Some(inst) => PoolSettings {
            keep_alive: inst.options.keep_alive,
            keep_alive_msecs: inst
                .options
                .keep_alive
                .then_some(inst.options.keep_alive_msecs),
            max_free: inst.options.max_free_sockets,
            timeout: inst.options.timeout.map(Duration::from_millis),
        },
        None => PoolSettings {
            keep_alive: true,
            keep_alive_msecs: None,
            max_free: 256,
            timeout: None,
        },
    }
}

pub(super) fn agent_for(
    c: &mut ClientState,
    owner: Option<usize>,
    host: &str,
    port: u16,
    tls: &TlsKey,
) -> usize {
    if let Some(i) = c
        .agents
        .iter()
        .position(|a| a.owner == owner && a.key.0 == host && a.key.1 == port && a.tls_key() == tls)
    {
        return i;
    }
    let max_sockets = match owner.and_then(|i| c.instances.get(i)) {
        Some(inst) => inst.options.max_sockets,
        None => c.global_max_sockets,
    };
    c.agents.push(AgentRec {
        owner,
        key: (host.to_owned(), port),
        #[cfg(feature = "tls")]
        tls: tls.clone(),
        max_sockets,
        active: Vec::new(),
        idle: Vec::new(),
        queue: VecDeque::new(),
        upgrade: Listeners::default(),
        free: Listeners::default(),
    });
    c.agents.len() - 1
}

/// The agent's `upgrade` event, for a request with no listener of its own:
/// the host pool's listeners, else its agent's (instance or global).
pub(super) fn emit_agent_upgrade(ex: ClientId, mut call: impl FnMut(&mut UpgradeListener)) -> bool {
    let Some(Some(agent)) = with_state(|c| c.clients.get(ex).and_then(|e| e.agent)) else {
        return false;
    };
    // The same emit as every other event: the listeners go back even if
    // one panics.
    let by_host = runtime::listeners::emit(
        |f| {
            with_state(|c| c.agents.get_mut(agent).map(|a| f(&mut a.upgrade)).is_some())
                .unwrap_or(false)
        },
        &mut call,
    );
    by_host
        || runtime::listeners::emit(
            |f| {
                with_state(|c| {
                    let owner = c.agents.get(agent).map(|a| a.owner)?;
                    let listeners = match owner {
                        Some(i) => &mut c.instances.get_mut(i)?.upgrade,
                        None => &mut c.global_upgrade,
                    };
                    f(listeners);
                    Some(())
                })
                .flatten()
                .is_some()
            },
            &mut call,
        )
}

/// Whether anyone listens for `free` on pool `agent`: on the pool, or on
/// its agent (instance or global).
pub(super) fn has_free_listeners(c: &ClientState, agent: usize) -> bool {
    let Some(a) = c.agents.get(agent) else {
        return false;
    };
    let owner = match a.owner {
        Some(i) => c.instances.get(i).map(|inst| &inst.free),
        None => Some(&c.global_free),
    };
    !a.free.is_empty() || owner.is_some_and(|l| !l.is_empty())
}

/// The agent's `free` event for `sock`, back in pool `agent`: the pool's
/// listeners, then its agent's (instance or global).
pub(super) fn emit_agent_free(agent: usize, sock: SockId, options: &RequestOptions) {
    let socket = Socket::from_id(sock);
    let mut call = |f: &mut FreeListener| f(socket, options);
    runtime::listeners::emit(
        |f| {
            with_state(|c| c.agents.get_mut(agent).map(|a| f(&mut a.free)).is_some())
                .unwrap_or(false)
        },
        &mut call,
    );
    runtime::listeners::emit(
        |f| {
            with_state(|c| {
                let owner = c.agents.get(agent).map(|a| a.owner)?;
                let listeners = match owner {
                    Some(i) => &mut c.instances.get_mut(i)?.free,
                    None => &mut c.global_free,
                };
                f(listeners);
                Some(())
            })
            .flatten()
            .is_some()
        },
        &mut call,
    );
}

impl Agent {
    /// A new agent with its own pools (Node's `new http.Agent(options)`):
    /// pass it as [`RequestOptions::agent`] to use it. Capping one fan-out
    /// does not change the global agent.
    ///
    /// ```
    /// use nodelike::http::{Agent, AgentOptions};
    /// let ten = Agent::new(AgentOptions { max_sockets: 10, keep_alive: true, ..Default::default() });
    /// assert_eq!(ten.max_sockets(), 10);
    /// assert_eq!(nodelike::http::global_agent().max_sockets(), usize::MAX);
    /// ```
    #[doc(alias = "Agent")]
    pub fn new(options: AgentOptions) -> Agent {
        let i = with_state(|c| {
            c.instances.push(InstanceRec {
                options: AgentOptions {
                    max_sockets: options.max_sockets.max(1),
                    ..options
                },
                upgrade: Listeners::default(),
                free: Listeners::default(),
            });
            c.instances.len() - 1
        })
        .unwrap_or(usize::MAX);
        Agent {
            scope: AgentScope::Instance(i),
            _loop: LoopBound::default(),
        }
    }

    /// The host pools this handle stands for.
    fn pools(&self, c: &ClientState) -> Vec<usize> {
        match self.scope {
            AgentScope::Host(h) => vec![h],
            AgentScope::Global => (0..c.agents.len())
                .filter(|&i| c.agents[i].owner.is_none())
                .collect(),
            AgentScope::Instance(n) => (0..c.agents.len())
                .filter(|&i| c.agents[i].owner == Some(n))
                .collect(),
        }
    }

    fn count(&self, of: impl Fn(&AgentRec) -> usize) -> usize {
        with_state(|c| {
            self.pools(c)
                .into_iter()
                .filter_map(|i| c.agents.get(i))
                .map(&of)
                .sum()
        })
        .unwrap_or(0)
    }

    /// Adds an `upgrade` listener for this agent's requests that have none
    /// of their own (the seed's `agent.on('upgrade', ...)`).
    ///
    /// ```no_run
    /// let agent = nodelike::http::get_agent("127.0.0.1", 1337);
    /// agent.on_upgrade(|_res, socket, _head| socket.end(()));
    /// ```
    #[doc(alias = "upgrade")]
    pub fn on_upgrade(&self, f: impl FnMut(ClientResponse, Socket, &[u8]) + 'static) {
        with_state(|c| match self.scope {
            AgentScope::Host(h) => {
                if let Some(a) = c.agents.get_mut(h) {
                    a.upgrade.push(Box::new(f));
                }
            }
            AgentScope::Global => c.global_upgrade.push(Box::new(f)),
            AgentScope::Instance(n) => {
                if let Some(inst) = c.instances.get_mut(n) {
                    inst.upgrade.push(Box::new(f));
                }
            }
        });
    }

    /// Adds a `free` listener (Node's `agent.on('free', (socket, options)
    /// => ...)`): a keep-alive socket's response is over and the socket is
    /// back in the agent. It is called on the next tick, after the
    /// response's `end`, once the agent has decided what the socket does
    /// next, as Node's own listener runs before the user's: it carries a
    /// waiting request, or waits among the free sockets, or (past
    /// [`max_free_sockets`](AgentOptions::max_free_sockets)) it is being
    /// destroyed. A socket closed after its response (no keep-alive, or
    /// `Connection: close`) is never free.
    ///
    /// `options` are those of the request that just finished on the
    /// socket (Node passes the options the socket was made with: the same
    /// host, port and agent). Listeners on a
    /// [`get_agent`](crate::http::get_agent) handle hear that pool's
    /// sockets; on an instance or the global agent, every pool's.
    ///
    /// ```no_run
    /// use nodelike::http::{self, Agent, AgentOptions};
    /// let agent = Agent::new(AgentOptions { keep_alive: true, ..Default::default() });
    /// agent.on_free(|socket, options| {
    ///     println!("{}:{} free on {:?}", options.host, options.port, socket.local_address());
    /// });
    /// let get = http::RequestOptions { host: "127.0.0.1".into(), port: 8000, agent: Some(agent), ..Default::default() };
    /// http::get(get, |res| res.on_data(|_| {}));
    /// nodelike::run();
    /// ```
    #[doc(alias = "free")]
    pub fn on_free(&self, f: impl FnMut(Socket, &RequestOptions) + 'static) {
        with_state(|c| match self.scope {
            AgentScope::Host(h) => {
                if let Some(a) = c.agents.get_mut(h) {
                    a.free.push(Box::new(f));
                }
            }
            AgentScope::Global => c.global_free.push(Box::new(f)),
            AgentScope::Instance(n) => {
                if let Some(inst) = c.instances.get_mut(n) {
                    inst.free.push(Box::new(f));
                }
            }
        });
    }

    /// The most sockets the agent opens at once, per host (the global
    /// agent's default: unlimited, as Node 20's; the seed's was 5).
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("a", 1).max_sockets(), usize::MAX);
    /// ```
    pub fn max_sockets(&self) -> usize {
        with_state(|c| match self.scope {
            AgentScope::Host(h) => c.agents.get(h).map(|a| a.max_sockets),
            AgentScope::Global => Some(c.global_max_sockets),
            AgentScope::Instance(n) => c.instances.get(n).map(|i| i.options.max_sockets),
        })
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
        let n = n.max(1);
        with_state(|c| {
            match self.scope {
                AgentScope::Host(_) => {}
                AgentScope::Global => c.global_max_sockets = n,
                AgentScope::Instance(i) => {
                    if let Some(inst) = c.instances.get_mut(i) {
                        inst.options.max_sockets = n;
                    }
                }
            }
            for i in self.pools(c) {
                if let Some(a) = c.agents.get_mut(i) {
                    a.max_sockets = n;
                }
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
        self.count(|a| a.active.len())
    }

    /// Idle keep-alive sockets kept for reuse.
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("d", 1).idle_sockets(), 0);
    /// ```
    pub fn idle_sockets(&self) -> usize {
        self.count(|a| a.idle.len())
    }

    /// Destroys every socket the agent has right now, in use or free
    /// (Node's `agent.destroy()`): every host's pool of an instance or of
    /// the global agent, or the one pool of a
    /// [`get_agent`](crate::http::get_agent) handle.
    ///
    /// A request on one of them fails as when its socket is destroyed in
    /// Node: `error` with "socket hang up" (`ECONNRESET`), then `close`; it
    /// is not sent again on a fresh connection. Requests waiting in the
    /// queue are not failed: as in Node, each socket's close frees its slot
    /// and the next waiting request gets a new connection. The sockets
    /// close on the next turn of the loop, so [`sockets`](Self::sockets)
    /// and [`idle_sockets`](Self::idle_sockets) count them until then, as
    /// Node's `agent.sockets` does. The agent stays usable.
    ///
    /// ```no_run
    /// use nodelike::http::{self, Agent, AgentOptions};
    /// let agent = Agent::new(AgentOptions { keep_alive: true, ..Default::default() });
    /// let req = http::request(
    ///     http::RequestOptions { host: "127.0.0.1".into(), port: 8000, agent: Some(agent), ..Default::default() },
    ///     |_res| {},
    /// );
    /// req.on_error(|e| eprintln!("{e}")); // socket hang up (ECONNRESET)
    /// req.end(());
    /// nodelike::set_timeout(move || agent.destroy(), 100);
    /// nodelike::run();
    /// ```
    pub fn destroy(&self) {
        let lookups = with_state(|c| {
            let mut sockets = Vec::new();
            let mut lookups = Vec::new();
            for i in self.pools(c) {
                let Some(a) = c.agents.get(i) else { continue };
                sockets.extend(a.idle.iter().copied());
                for used in &a.active {
                    match *used {
                        InUse::Socket(s) => sockets.push(s),
                        InUse::Resolving(id) => lookups.push((i, id)),
                    }
                }
            }
            for sock in sockets {
                // The request fails with the socket, as in Node: no replay.
                let ex = c.conns.get(sock).and_then(|conn| conn.ex);
                if let Some(e) = ex.and_then(|ex| c.clients.get_mut(ex)) {
                    e.disarm_replay();
                }
                log::debug!("client: agent destroys socket {}", sock.key);
                net::destroy(sock, Cause::Aborted);
            }
            // A connection still looking up its host has no socket yet:
            // its request is over now (the lookup's answer finds it done),
            // and fails on the next turn, when its slot goes to the next
            // waiting request, as a destroyed socket's would.
            lookups.retain(|&(_, id)| match c.clients.get_mut(id) {
                Some(e) => e.response.end_early(),
                None => false,
            });
            lookups
        })
        .unwrap_or_default();
        for (a, id) in lookups {
            crate::next_tick(move || {
                with_state(|c| {
                    c.agents[a].active.retain(|u| *u != InUse::Resolving(id));
                    start_next(c, a);
                });
                fail_now(id, Error::new(ErrorKind::ConnectionReset, "socket hang up"));
            });
        }
    }

    /// Requests waiting for a socket (Node's `agent.queue.length`, and
    /// Node 20's `agent.requests`). A request aborted or destroyed while
    /// waiting is counted until a socket comes free and passes it by, as
    /// Node counts it.
    ///
    /// ```
    /// assert_eq!(nodelike::http::get_agent("e", 1).queue(), 0);
    /// ```
    #[doc(alias = "requests")]
    pub fn queue(&self) -> usize {
        self.count(|a| a.queue.len())
    }
}
