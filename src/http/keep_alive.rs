//! Keep-alive: whether a connection carries another message after the
//! current one (RFC 9112 §9.3), decided in one place for both roles.
//!
//! The server asks it whether a response may promise persistence (or must
//! say `Connection: close`), whether to read another request, and when the
//! last response is out whether to close. The client asks it whether a
//! socket goes back to the agent's pool. The inputs are the same events on
//! both sides: a message head said `close` (or was HTTP/1.0 without
//! `keep-alive`), the peer half-closed, our side decided to close (a server
//! closing, a protocol error), or a message could only be delimited by
//! closing. To change the policy, change this file.

/// The keep-alive state of one connection.
///
/// It starts persistent. Each event can only take persistence away: once a
/// connection is ending, nothing makes it persistent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeepAlive {
    /// Messages after the ones already started may come (the server reads
    /// more requests; the client may reuse the socket).
    more_messages: bool,
    /// Messages still to be sent may promise persistence; once false, the
    /// server says `Connection: close` on every response still to go.
    persistent: bool,
    /// The peer finished sending (its FIN arrived).
    peer_ended: bool,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            more_messages: true,
            persistent: true,
            peer_ended: false,
        }
    }
}

/// What to do once a message exchange is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterMessage {
    /// The connection stays open for the next message.
    KeepOpen,
    /// The connection closes once this message has gone out.
    Close,
}

impl KeepAlive {
    /// A message head from the peer arrived; `keep_alive` is what it said
    /// (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with
    /// `Connection: keep-alive`). A `close` means it is the last one: no
    /// message after it is read.
    pub(crate) fn peer_message(&mut self, keep_alive: bool) {
        if !keep_alive {
            self.more_messages = false;
        }
    }

    /// The peer half-closed: what it already sent is answered, nothing
    /// more is read.
    pub(crate) fn peer_ended(&mut self) {
        self.peer_ended = true;
        self.more_messages = false;
    }

    /// Our side decided to end the connection (a server closing, a
    /// protocol error): messages still to go say `Connection: close`, and
    /// no new message starts.
    pub(crate) fn close(&mut self) {
        self.persistent = false;
        self.more_messages = false;
    }

    /// No message after the ones already started is read (a malformed
    /// request: the answers already owed still go out as they would).
    pub(crate) fn no_more_messages(&mut self) {
        self.more_messages = false;
    }

    /// Only the persistence promised from now on is withdrawn (a server
    /// closing): requests already read are answered with
    /// `Connection: close`, and idle connections close.
    pub(crate) fn stop_promising(&mut self) {
        self.persistent = false;
    }

    /// Whether a message sent now may promise persistence.
    pub(crate) fn persistent(&self) -> bool {
        self.persistent
    }

    /// Whether another message may start on the connection (the server
    /// reads on; the client may reuse the socket).
    pub(crate) fn more_messages(&self) -> bool {
        self.more_messages
    }

    /// A message exchange is over. `message_keep_alive`: the message as
    /// sent allowed persistence (its head did not say `close`, and it was
    /// delimited without closing). `more_queued`: later exchanges are
    /// already under way on the connection (pipelined requests), which are
    /// answered before it closes.
    pub(crate) fn after_message(
        &mut self,
        message_keep_alive: bool,
        more_queued: bool,
    ) -> AfterMessage {
        let last = !self.persistent || self.peer_ended || !self.more_messages;
        if !message_keep_alive || (!more_queued && last) {
            self.close();
            AfterMessage::Close
        } else {
            AfterMessage::KeepOpen
        }
    }

    /// Whether an idle connection (between messages) may be kept for the
    /// next one: a pooled client socket, an idle server connection.
    pub(crate) fn reusable(&self) -> bool {
        self.persistent && self.more_messages && !self.peer_ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_persists_until_something_says_otherwise() {
        let mut k = KeepAlive::default();
        k.peer_message(true);
        assert!(k.persistent() && k.more_messages() && k.reusable());
        assert_eq!(k.after_message(true, false), AfterMessage::KeepOpen);
        assert!(k.reusable());
    }

    #[test]
    fn a_message_saying_close_is_the_last_one_read_but_earlier_ones_are_answered() {
        let mut k = KeepAlive::default();
        k.peer_message(true); // request 1
        k.peer_message(false); // request 2 says close
        assert!(!k.more_messages(), "no request after it is read");
        assert!(k.persistent(), "request 1's response may still keep alive");
        assert_eq!(k.after_message(true, true), AfterMessage::KeepOpen);
        assert_eq!(k.after_message(true, false), AfterMessage::Close);
        assert!(!k.persistent() && !k.reusable());
    }

    #[test]
    fn a_response_that_cannot_keep_alive_closes_the_connection_at_once() {
        let mut k = KeepAlive::default();
        assert_eq!(k.after_message(false, true), AfterMessage::Close);
        assert!(!k.more_messages() && !k.persistent());
    }

    #[test]
    fn the_peer_ending_means_answer_what_was_asked_then_close() {
        let mut k = KeepAlive::default();
        k.peer_ended();
        assert!(!k.more_messages() && !k.reusable());
        assert_eq!(k.after_message(true, true), AfterMessage::KeepOpen);
        assert_eq!(k.after_message(true, false), AfterMessage::Close);
    }

    #[test]
    fn closing_withdraws_the_promise_and_nothing_restores_it() {
        let mut k = KeepAlive::default();
        k.stop_promising();
        assert!(!k.persistent() && k.more_messages());
        k.peer_message(true);
        assert!(!k.persistent());
        assert_eq!(k.after_message(true, false), AfterMessage::Close);
        let mut k = KeepAlive::default();
        k.close();
        assert!(!k.persistent() && !k.more_messages());
    }
}
