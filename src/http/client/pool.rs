//! Socket assignment and reuse: which socket a request gets (an idle
//! pooled one, a new connection, or a place in the agent's queue), and
//! what happens to a socket after its response.

use super::*;

/// Finds the request a socket: an idle pooled one, a new connection, or
/// a place in the agent's queue.
pub(super) fn assign(c: &mut ClientState, id: ClientId) {
    let Some(ex) = c.clients.get_mut(id) else {
        return;
    };
    let Some(o) = ex.options.clone() else { return };
    if !o.agent || o.socket_path.is_some() {
        connect(c, id, None, &o);
        return;
    }
    let agent = agent_for(c, &o.host, o.port, &tls_key(&o));
    if let Some(ex) = c.clients.get_mut(id) {
        ex.agent = Some(agent);
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
        attach(c, id, sock);
        return;
    }
    if c.agents[agent].active.len() < c.agents[agent].max_sockets {
        connect(c, id, Some(agent), &o);
    } else {
        log::trace!("client: agent {}:{} full; request queued", o.host, o.port);
        c.agents[agent].queue.push_back(id);
        if let Some(ex) = c.clients.get_mut(id) {
            ex.queued = true;
        }
    }
}

/// Gives socket `sock` to exchange `id` and sends what it has written.
pub(super) fn attach(c: &mut ClientState, id: ClientId, sock: SockId) {
    net::set_ref(sock, true);
    let timeout = c.clients.get(id).and_then(|e| e.timeout);
    net::set_idle_timeout(sock, timeout);
    if let Some(conn) = c.conns.get_mut(sock) {
        conn.ex = Some(id);
        conn.reading = ClientReading::Head;
    }
    if let Some(ex) = c.clients.get_mut(id) {
        ex.socket = Some(sock);
        ex.queued = false;
    }
    pump(c, id);
}

/// Moves bytes the request wrote into its socket, once it is connected.
pub(super) fn pump(c: &mut ClientState, id: ClientId) {
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
    let bytes = std::mem::take(&mut ex.out);
    net::write(sock, &bytes);
    if let Some(ex) = c.clients.get_mut(id) {
        let mut bytes = bytes;
        bytes.clear();
        ex.out = bytes;
    }
}

/// After a response: back to the agent's idle list (keep-alive, request
/// fully sent) or closed.
pub(super) fn release_socket(c: &mut ClientState, sock: SockId, ex: ClientId) {
    let (sent, agent) = match c.clients.get(ex) {
        // The request went out whole: the message allowed persistence.
        Some(e) => (e.ended, e.agent),
        None => (false, None),
    };
    let Some(conn) = c.conns.get_mut(sock) else {
        return;
    };
    let keep =
        agent.is_some() && conn.keep_alive.after_message(sent, false) == AfterMessage::KeepOpen;
    conn.ex = None;
    conn.reading = ClientReading::Head;
    let (Some(a), true) = (agent, keep) else {
        detach_from_agent(c, sock);
        net::destroy(sock, Cause::Aborted);
        return;
    };
    c.agents[a].active.retain(|x| *x != InUse::Socket(sock));
    if let Some(next) = c.agents[a].queue.pop_front() {
        c.agents[a].active.push(InUse::Socket(sock));
        attach(c, next, sock);
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
    if let Some(next) = c.agents[a].queue.pop_front() {
        if let Some(e) = c.clients.get_mut(next) {
            e.queued = false;
        }
        assign(c, next);
    }
}

pub(super) fn detach_from_agent(c: &mut ClientState, sock: SockId) {
    let agent = c.conns.get_mut(sock).and_then(|conn| conn.agent.take());
    if let Some(a) = agent {
        forget_socket(c, a, sock);
    }
}
