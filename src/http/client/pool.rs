//! Socket assignment and reuse: which socket a request gets (an idle
//! pooled one, a new connection, or a place in the agent's queue), and
//! what happens to a socket after its response.

use std::time::Duration;

use crate::http::keep_alive::AfterMessage;
use crate::net::{Cause, SockId, Socket};
use crate::{net, runtime};

use super::agent::{agent_for, emit_agent_free, has_free_listeners, pool_settings};
use super::connect::connect;
use super::exchange::emit;
use super::exchange::RequestOut;
use super::{
    client_ctx, client_from_ctx, is_idempotent, tls_key, with_state, AgentScope, ClientId,
    ClientState, InUse, AGENT_IDLE_TIMEOUT_MS,
};

/// Finds the request a socket: an idle pooled one, a new connection, or
/// a place in the agent's queue.
pub(super) fn assign(c: &mut ClientState, id: ClientId) {
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let Some(o) = ex.options.clone() else { return };
    let handle = match o.agent {
        Some(handle) if o.socket_path.is_none() => handle,
        _ => {
            connect(c, id, None, &o);
            return;
        }
    };
    let owner = match handle.scope {
        AgentScope::Host(h) => c.agents.get(h).and_then(|a| a.owner),
        AgentScope::Global => None,
        AgentScope::Instance(i) => Some(i),
    };
    let agent = agent_for(c, owner, &o.host, o.port, &tls_key(&o));
    let settings = pool_settings(c, owner);
    if let Some(ex) = c.clients.get_mut(id) {
        ex.join_agent(agent, &settings);
    }
    // Reuse the most recently idle socket that is still open.
    while let Some(sock) = c.agents[agent].idle.pop() {
        let persists = c
            .conns
            .get(sock)
            .is_some_and(|conn| conn.keep_alive.reusable());
        if !persists || !net::is_reusable(sock) {
            continue;
        }
        log::trace!(
            "client: reusing socket {} for {}:{}",
            sock.key,
            o.host,
            o.port
        );
        c.agents[agent].active.push(InUse::Socket(sock));
        if is_idempotent(&o.method) {
            if let Some(ex) = c.clients.get_mut(id) {
                ex.arm_replay();
            }
        }
        attach(c, id, sock);
        return;
    }
    if c.agents[agent].active.len() < c.agents[agent].max_sockets {
        connect(c, id, Some(agent), &o);
    } else {
        log::trace!("client: agent {}:{} full; request queued", o.host, o.port);
        c.agents[agent].queue.push_back(id);
        if let Some(ex) = c.clients.get_mut(id) {
            ex.wait_in_queue();
        }
    }
}

/// Gives socket `sock` to exchange `id` and sends what it has written.
pub(super) fn attach(c: &mut ClientState, id: ClientId, sock: SockId) {
    net::set_ref(sock, true);
    let timeout = c.clients.get(id).and_then(|e| e.timeout);
    net::set_idle_timeout(sock, timeout);
    if let Some(conn) = c.conns.get_mut(sock) {
        conn.carry(id);
    }
    if let Some(ex) = c.clients.get_mut(id) {
        ex.attach_socket(sock);
    }
    announce_socket(id);
    pump(c, id);
}

/// Queues the `socket` event of request `id` for the next turn (Node emits
/// it on the next tick, so listeners added right after `request` hear it).
/// Deferred as `Work`, not a closure: no allocation per request.
pub(super) fn announce_socket(id: ClientId) {
    runtime::defer(runtime::Work::new(emit_socket_ctx, client_ctx(id)));
}

/// The deferred `socket` event: socket options asked for before the
/// request had a socket are applied first.
fn emit_socket_ctx(ctx: u64) {
    let id = client_from_ctx(ctx);
    let found = with_state(|c| {
        let e = c.clients.get(id)?;
        Some((e.socket?, e.no_delay, e.socket_keep_alive))
    })
    .flatten();
    let Some((sock, no_delay, keep_alive)) = found else {
        return;
    };
    let socket = Socket::from_id(sock);
    if let Some(on) = no_delay {
        socket.set_no_delay(on);
    }
    if let Some((on, delay)) = keep_alive {
        socket.set_keep_alive(on, delay);
    }
    emit(id, |l| &mut l.socket, |f| f(socket));
}

/// Moves bytes the request wrote into its socket, once it is connected;
/// once the ended request has all gone, `finish` follows on the next turn.
pub(super) fn pump(c: &mut ClientState, id: ClientId) {
    pump_bytes(c, id);
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    if ex.request == RequestOut::Ended && ex.out.is_empty() && ex.socket.is_some() {
        ex.request.reach(RequestOut::Finished);
        runtime::defer(runtime::Work::new(emit_finish_ctx, client_ctx(id)));
    }
}

fn emit_finish_ctx(ctx: u64) {
    emit(client_from_ctx(ctx), |l| &mut l.finish, |f| f());
}

fn pump_bytes(c: &mut ClientState, id: ClientId) {
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let Some(sock) = ex.socket else { return };
    if ex.out.is_empty() {
        return;
    }
    if net::is_connecting(sock) {
        return;
    }
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let bytes = ex.take_out();
    net::write(sock, &bytes);
    if let Some(ex) = c.clients.get_mut(id) {
        let mut bytes = bytes;
        bytes.clear();
        ex.put_out(bytes);
    }
}

/// After a response: back to the agent's idle list (keep-alive, request
/// fully sent) or closed.
pub(super) fn release_socket(c: &mut ClientState, sock: SockId, ex: ClientId) {
    let (sent, agent) = match c.clients.get(ex) {
        // The request went out whole: the message allowed persistence.
        Some(e) => (e.request.ended(), e.agent),
        None => (false, None),
    };
    let settings = pool_settings(c, agent.and_then(|a| c.agents.get(a)).and_then(|a| a.owner));
    let Some(conn) = c.conns.get_mut(sock) else {
        return;
    };
    let keep = agent.is_some()
        && settings.keep_alive
        && conn.keep_alive.after_message(sent, false) == AfterMessage::KeepOpen;
    conn.release();
    let (Some(a), true) = (agent, keep) else {
        detach_from_agent(c, sock);
        net::destroy(sock, Cause::Aborted);
        return;
    };
    // The agent's `free` event, after what follows has decided where the
    // socket goes (Node's own `free` listener runs before the user's).
    if has_free_listeners(c, a) {
        if let Some(options) = c.clients.get(ex).and_then(|e| e.options.clone()) {
            crate::next_tick(move || emit_agent_free(a, sock, &options));
        }
    }
    c.agents[a].active.retain(|x| *x != InUse::Socket(sock));
    if let Some(next) = next_waiting(c, a) {
        c.agents[a].active.push(InUse::Socket(sock));
        attach(c, next, sock);
        return;
    }
    if c.agents[a].idle.len() >= settings.max_free {
        // More idle sockets than the agent keeps (`max_free_sockets`).
        detach_from_agent(c, sock);
        net::destroy(sock, Cause::Aborted);
        return;
    }
    c.agents[a].idle.push(sock);
    // An idle pooled socket does not keep the loop alive (Node unrefs free
    // sockets) and is closed after a while.
    net::set_ref(sock, false);
    net::set_idle_timeout(sock, Some(Duration::from_millis(AGENT_IDLE_TIMEOUT_MS)));
}

/// Agent `a` no longer has `sock`; the slot it freed starts a queued
/// request.
pub(super) fn forget_socket(c: &mut ClientState, a: usize, sock: SockId) {
    c.agents[a].active.retain(|x| *x != InUse::Socket(sock));
    c.agents[a].idle.retain(|x| *x != sock);
    start_next(c, a);
}

/// A slot of agent `a` is free: the oldest waiting request (if any) gets
/// a socket.
pub(super) fn start_next(c: &mut ClientState, a: usize) {
    if let Some(next) = next_waiting(c, a) {
        assign(c, next);
    }
}

/// Takes the oldest request in agent `a`'s queue that still wants a
/// socket. Requests aborted or destroyed while waiting kept their place
/// (Node counts them in `agent.requests` until a socket comes free and
/// hands itself on past them); they leave the queue here.
pub(super) fn next_waiting(c: &mut ClientState, a: usize) -> Option<ClientId> {
    while let Some(id) = c.agents[a].queue.pop_front() {
        if let Some(e) = c.clients.get_mut(id) {
            e.leave_queue();
            if !e.response.is_over() {
                return Some(id);
            }
        }
    }
    None
}

pub(super) fn detach_from_agent(c: &mut ClientState, sock: SockId) {
    let agent = c.conns.get_mut(sock).and_then(|conn| conn.take_agent());
    if let Some(a) = agent {
        forget_socket(c, a, sock);
    }
}

/// The pool's decisions, played through in-memory connections: the test is
/// every server, and sees each connection the agent opens.
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::super::with_state;
    use crate::http::{self, get_agent, RequestOptions};
    use crate::net::MemoryConnection;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    /// From now on (on this thread), the agent's new connections are
    /// in-memory ones.
    fn use_memory_connections() {
        with_state(|c| c.memory_peers = Some(Vec::new()));
    }

    /// The far ends of the connections opened since the last call.
    fn new_connections() -> Vec<MemoryConnection> {
        with_state(|c| std::mem::take(c.memory_peers.as_mut().unwrap())).unwrap()
    }

    /// Sends `GET path` to `host`, recording "path:status:body" once its
    /// response has ended.
    fn get(host: &str, path: &str, log: &Rc<RefCell<Vec<String>>>) {
        let (log, path_owned) = (log.clone(), path.to_string());
        let req = http::request(format!("http://{host}{path}").as_str(), move |res| {
            let body = Rc::new(RefCell::new(String::new()));
            let (b, log, path) = (body.clone(), log.clone(), path_owned.clone());
            res.on_data(move |chunk| b.borrow_mut().push_str(&chunk.to_string()));
            let status = res.status_code();
            res.on_end(move || {
                log.borrow_mut()
                    .push(format!("{path}:{status}:{}", body.borrow()))
            });
        });
        req.end(());
    }

    fn request_line(conn: &MemoryConnection) -> String {
        let out = conn.take_output();
        let text = String::from_utf8_lossy(&out);
        text.lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn a_free_socket_is_reused_for_the_next_request_to_the_same_host() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("reuse.test", 80);
        get("reuse.test", "/a", &log);
        let conns = new_connections();
        assert_eq!(conns.len(), 1);
        assert_eq!(request_line(&conns[0]), "GET /a HTTP/1.1");
        assert_eq!((agent.sockets(), agent.idle_sockets()), (1, 0));
        conns[0].send(OK);
        assert_eq!(*log.borrow(), ["/a:200:ok"]);
        // In use 0, free 1 (Node's `sockets` and `freeSockets`).
        assert_eq!((agent.sockets(), agent.idle_sockets()), (0, 1));

        get("reuse.test", "/b", &log);
        assert!(new_connections().is_empty(), "no second connection");
        assert_eq!(request_line(&conns[0]), "GET /b HTTP/1.1");
        assert_eq!((agent.sockets(), agent.idle_sockets()), (1, 0));
        conns[0].send(OK);
        assert_eq!(*log.borrow(), ["/a:200:ok", "/b:200:ok"]);
        assert!(!conns[0].output_ended());
    }

    #[test]
    fn past_max_sockets_requests_queue_and_take_freed_sockets_in_order() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("queue.test", 80);
        agent.set_max_sockets(2);
        for n in 1..=4 {
            get("queue.test", &format!("/{n}"), &log);
        }
        let conns = new_connections();
        assert_eq!(conns.len(), 2, "two sockets, no more");
        assert_eq!(agent.queue(), 2);
        assert_eq!(request_line(&conns[0]), "GET /1 HTTP/1.1");
        assert_eq!(request_line(&conns[1]), "GET /2 HTTP/1.1");
        // The second connection frees first: the oldest waiting request
        // (/3) gets it.
        conns[1].send(OK);
        assert_eq!(request_line(&conns[1]), "GET /3 HTTP/1.1");
        assert_eq!(agent.queue(), 1);
        conns[0].send(OK);
        assert_eq!(request_line(&conns[0]), "GET /4 HTTP/1.1");
        assert_eq!(agent.queue(), 0);
        conns[0].send(OK);
        conns[1].send(OK);
        assert_eq!(
            *log.borrow(),
            ["/2:200:ok", "/1:200:ok", "/4:200:ok", "/3:200:ok"]
        );
        assert!(new_connections().is_empty());
        assert_eq!((agent.sockets(), agent.idle_sockets()), (0, 2));
    }

    #[test]
    fn a_pooled_socket_the_server_closed_is_dropped_not_handed_out() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("closed.test", 80);
        get("closed.test", "/a", &log);
        let first = new_connections();
        request_line(&first[0]);
        first[0].send(OK);
        assert_eq!(agent.idle_sockets(), 1);
        // The server closes the idle connection (its keep-alive timeout).
        first[0].end();
        assert_eq!((agent.sockets(), agent.idle_sockets()), (0, 0));
        get("closed.test", "/b", &log);
        let second = new_connections();
        assert_eq!(second.len(), 1, "a new connection, not the closed one");
        assert_eq!(request_line(&second[0]), "GET /b HTTP/1.1");
        assert!(first[0].take_output().is_empty());
    }

    #[test]
    fn a_response_with_connection_close_is_not_pooled() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("close.test", 80);
        get("close.test", "/a", &log);
        let first = new_connections();
        request_line(&first[0]);
        first[0].send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(*log.borrow(), ["/a:200:ok"]);
        assert!(first[0].output_ended(), "our side closed it");
        assert_eq!((agent.sockets(), agent.idle_sockets()), (0, 0));
        get("close.test", "/b", &log);
        assert_eq!(new_connections().len(), 1);
    }

    #[test]
    fn a_request_without_an_agent_gets_its_own_connection_closed_after_use() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("noagent.test", 80);
        let l = log.clone();
        let req = http::request(
            RequestOptions {
                host: "noagent.test".into(),
                path: "/solo".into(),
                agent: None,
                ..Default::default()
            },
            move |res| {
                let l = l.clone();
                res.on_end(move || l.borrow_mut().push("ended".to_string()));
            },
        );
        req.end(());
        let conns = new_connections();
        assert_eq!(conns.len(), 1);
        assert_eq!(agent.sockets(), 0, "not the agent's");
        assert_eq!(request_line(&conns[0]), "GET /solo HTTP/1.1");
        conns[0].send(OK);
        assert_eq!(*log.borrow(), ["ended"]);
        assert!(conns[0].output_ended(), "closed after its one response");
    }

    #[test]
    fn a_pooled_socket_that_receives_bytes_nobody_asked_for_is_destroyed() {
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("chatty.test", 80);
        get("chatty.test", "/a", &log);
        let first = new_connections();
        request_line(&first[0]);
        first[0].send(OK);
        assert_eq!(agent.idle_sockets(), 1);
        first[0].send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(agent.idle_sockets(), 0, "not kept for the next request");
        assert!(first[0].output_ended());
        get("chatty.test", "/b", &log);
        assert_eq!(new_connections().len(), 1, "a fresh connection");
    }

    #[test]
    fn a_second_response_behind_the_first_is_not_handed_to_the_next_request() {
        // With one socket and a queued request, an extra response in the
        // same read must not become the queued request's answer.
        use_memory_connections();
        let log = Rc::new(RefCell::new(Vec::new()));
        let agent = get_agent("double.test", 80);
        agent.set_max_sockets(1);
        get("double.test", "/1", &log);
        get("double.test", "/2", &log);
        let first = new_connections();
        assert_eq!(request_line(&first[0]), "GET /1 HTTP/1.1");
        let mut double = OK.to_vec();
        double.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfake!");
        first[0].send(&double);
        assert_eq!(
            *log.borrow(),
            ["/1:200:ok"],
            "/2 did not get the extra response"
        );
        assert!(first[0].output_ended(), "the socket is gone");
        let second = new_connections();
        assert_eq!(second.len(), 1);
        assert_eq!(request_line(&second[0]), "GET /2 HTTP/1.1");
        second[0].send(OK);
        assert_eq!(*log.borrow(), ["/1:200:ok", "/2:200:ok"]);
    }

    /// Sends `GET path` to `host` through `agent`.
    fn get_with(agent: Option<crate::http::Agent>, host: &str, path: &str) {
        let req = http::request(
            RequestOptions {
                host: host.into(),
                path: path.into(),
                agent,
                ..Default::default()
            },
            |res| res.on_data(|_| {}),
        );
        req.end(());
    }

    #[test]
    fn an_agent_instance_caps_its_own_fan_out_and_leaves_the_global_agent_alone() {
        use crate::http::{global_agent, Agent, AgentOptions};
        use_memory_connections();
        let ten = Agent::new(AgentOptions {
            max_sockets: 2,
            keep_alive: true,
            ..Default::default()
        });
        for n in 0..3 {
            get_with(Some(ten), "fan.test", &format!("/{n}"));
        }
        // (Held: a dropped far end closes its connection.)
        let instance_conns = new_connections();
        assert_eq!(instance_conns.len(), 2);
        assert_eq!((ten.sockets(), ten.queue()), (2, 1));
        // The global agent is untouched: its own pool, its own limit.
        assert_eq!(global_agent().max_sockets(), usize::MAX);
        get_with(Some(global_agent()), "fan.test", "/global");
        let global_conns = new_connections();
        assert_eq!(global_conns.len(), 1, "not queued behind the instance");
        assert_eq!((ten.queue(), global_agent().sockets()), (1, 1));
    }

    #[test]
    fn an_agent_without_keep_alive_closes_each_socket_after_its_response() {
        use crate::http::{Agent, AgentOptions};
        use_memory_connections();
        let once = Agent::new(AgentOptions::default()); // keep_alive: false
        get_with(Some(once), "once.test", "/a");
        let conns = new_connections();
        let head = String::from_utf8(conns[0].take_output()).unwrap();
        assert!(head.contains("Connection: close\r\n"), "{head}");
        conns[0].send(OK);
        assert!(conns[0].output_ended());
        assert_eq!((once.sockets(), once.idle_sockets()), (0, 0));
    }

    #[test]
    fn past_max_free_sockets_idle_sockets_are_closed() {
        use crate::http::{Agent, AgentOptions};
        use_memory_connections();
        let one_free = Agent::new(AgentOptions {
            keep_alive: true,
            max_free_sockets: 1,
            ..Default::default()
        });
        get_with(Some(one_free), "free.test", "/a");
        get_with(Some(one_free), "free.test", "/b");
        let conns = new_connections();
        assert_eq!(conns.len(), 2);
        for c in &conns {
            c.take_output();
            c.send(OK);
        }
        assert_eq!(one_free.idle_sockets(), 1);
        assert!(conns[1].output_ended(), "the second idle socket is closed");
        assert!(!conns[0].output_ended());
    }

    #[test]
    fn free_is_emitted_after_end_wherever_the_socket_goes_as_in_node() {
        // Node 20: `new http.Agent({ keepAlive: true, maxSockets: 2,
        // maxFreeSockets: 1 })`, three GETs; on each `free`, (sockets,
        // freeSockets, requests): (2, 0, 0) handed to the waiting /3,
        // (1, 1, 0) kept free, (1, 1, 0) destroyed past maxFreeSockets
        // (Node counts that one in `sockets` until its `close`; here it
        // has already left: (0, 1, 0)).
        use crate::http::{Agent, AgentOptions};
        use_memory_connections();
        let agent = Agent::new(AgentOptions {
            keep_alive: true,
            max_sockets: 2,
            max_free_sockets: 1,
            ..Default::default()
        });
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        agent.on_free(move |socket, options| {
            l.borrow_mut().push(format!(
                "free {} {}:{} {:?}",
                options.path,
                options.host,
                options.port,
                (agent.sockets(), agent.idle_sockets(), agent.queue()),
            ));
            assert!(socket.remote_address().is_none(), "in memory");
        });
        for path in ["/1", "/2", "/3"] {
            let l = log.clone();
            let req = http::request(
                RequestOptions {
                    host: "free-event.test".into(),
                    path: path.into(),
                    agent: Some(agent),
                    ..Default::default()
                },
                move |res| {
                    let l = l.clone();
                    res.on_data(|_| {});
                    res.on_end(move || l.borrow_mut().push(format!("end {path}")));
                },
            );
            req.end(());
        }
        let conns = new_connections();
        assert_eq!(conns.len(), 2);
        request_line(&conns[0]);
        request_line(&conns[1]);
        conns[0].send(OK);
        conns[1].send(OK);
        conns[0].send(OK);
        assert_eq!(
            *log.borrow(),
            [
                "end /1",
                "free /1 free-event.test:80 (2, 0, 0)",
                "end /2",
                "free /2 free-event.test:80 (1, 1, 0)",
                "end /3",
                "free /3 free-event.test:80 (0, 1, 0)",
            ]
        );
        assert!(conns[0].output_ended(), "past max_free_sockets: closed");
    }

    #[test]
    fn free_is_not_emitted_for_a_socket_closed_after_its_response() {
        use crate::http::{global_agent, Agent, AgentOptions};
        use_memory_connections();
        let once = Agent::new(AgentOptions::default()); // keep_alive: false
        let frees = Rc::new(RefCell::new(0));
        let (f1, f2, f3) = (frees.clone(), frees.clone(), frees.clone());
        once.on_free(move |_, _| *f1.borrow_mut() += 1);
        get_with(Some(once), "no-free.test", "/a");
        // The global agent keeps sockets alive, but this response closes.
        global_agent().on_free(move |_, o| {
            assert_eq!(o.host, "no-free.test");
            *f2.borrow_mut() += 1
        });
        get_agent("no-free.test", 80).on_free(move |_, _| *f3.borrow_mut() += 10);
        get_with(Some(global_agent()), "no-free.test", "/b");
        let conns = new_connections();
        conns[0].take_output();
        conns[0].send(OK);
        conns[1].take_output();
        conns[1].send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(*frees.borrow(), 0);
        // A keep-alive response: the host pool's listener, then the
        // global agent's.
        get_with(Some(global_agent()), "no-free.test", "/c");
        let conns = new_connections();
        conns[0].take_output();
        conns[0].send(OK);
        assert_eq!(*frees.borrow(), 11);
    }

    /// A request queued behind /1 (one socket), then stopped by `stop`:
    /// the agent's (sockets, free, queue) along the way, and whether the
    /// stopped request ever reached the server.
    fn stop_a_queued_request(
        host: &str,
        stop: impl Fn(crate::http::ClientRequest),
    ) -> Vec<(usize, usize, usize)> {
        use crate::http::{Agent, AgentOptions};
        use_memory_connections();
        let agent = Agent::new(AgentOptions {
            keep_alive: true,
            max_sockets: 1,
            ..Default::default()
        });
        let counts = || (agent.sockets(), agent.idle_sockets(), agent.queue());
        get_with(Some(agent), host, "/1");
        let queued = http::request(
            RequestOptions {
                host: host.into(),
                path: "/2".into(),
                agent: Some(agent),
                ..Default::default()
            },
            |_| panic!("stopped before it was sent"),
        );
        queued.on_error(|_| {});
        queued.end(());
        let conns = new_connections();
        assert_eq!(conns.len(), 1);
        let mut seen = vec![counts()];
        stop(queued);
        seen.push(counts());
        crate::runtime::settle();
        seen.push(counts());
        assert_eq!(request_line(&conns[0]), "GET /1 HTTP/1.1");
        conns[0].send(OK);
        seen.push(counts());
        assert!(conns[0].take_output().is_empty(), "/2 never sent");
        assert!(new_connections().is_empty());
        seen
    }

    #[test]
    fn an_aborted_queued_request_is_counted_until_a_socket_passes_it_by() {
        // Node 20, `new http.Agent({ keepAlive: true, maxSockets: 1 })`,
        // /1 in flight and /2 queued, `r2.abort()`: (sockets, free,
        // requests) is (1, 0, 1) before the abort, after it and on the
        // next turn; once /1's socket is free it passes /2 by: (0, 1, 0).
        let seen = stop_a_queued_request("abort-queued.test", |req| req.abort());
        assert_eq!(seen, [(1, 0, 1), (1, 0, 1), (1, 0, 1), (0, 1, 0)]);
    }

    #[test]
    fn a_destroyed_queued_request_is_counted_until_a_socket_passes_it_by() {
        // Node 20: the same numbers with `r2.destroy()`.
        let seen = stop_a_queued_request("destroy-queued.test", |req| req.destroy(None));
        assert_eq!(seen, [(1, 0, 1), (1, 0, 1), (1, 0, 1), (0, 1, 0)]);
    }

    #[test]
    fn a_socket_closing_passes_stopped_queued_requests_by() {
        use crate::http::{Agent, AgentOptions};
        use_memory_connections();
        let agent = Agent::new(AgentOptions {
            keep_alive: true,
            max_sockets: 1,
            ..Default::default()
        });
        get_with(Some(agent), "passed-by.test", "/1");
        let stopped = http::request(
            RequestOptions {
                host: "passed-by.test".into(),
                path: "/2".into(),
                agent: Some(agent),
                ..Default::default()
            },
            |_| panic!("aborted"),
        );
        stopped.end(());
        get_with(Some(agent), "passed-by.test", "/3");
        stopped.abort();
        assert_eq!(agent.queue(), 2);
        let first = new_connections();
        request_line(&first[0]);
        // /1's socket closes: its slot goes to /3, past the aborted /2.
        first[0].reset();
        assert_eq!(agent.queue(), 0);
        let second = new_connections();
        assert_eq!(second.len(), 1);
        assert_eq!(request_line(&second[0]), "GET /3 HTTP/1.1");
    }
}
