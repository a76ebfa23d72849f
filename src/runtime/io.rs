//! I/O sources: which registered descriptor a readiness event is for, and
//! whom to tell.
//!
//! A layer registers a mio source with an [`IoHandler`] of its own and a
//! context value; the runtime hands out the mio token (slot and generation
//! in its table) and, for each event, calls the handler with that context.
//! The runtime never learns whether the source is a socket, a listener or
//! something else.

use std::io;

use mio::{Interest, Token};
use slab::Slab;

/// The layer's callbacks for readiness on its sources.
#[derive(Debug)]
pub(crate) struct IoHandler {
    /// Readiness arrived for the source registered with this context.
    pub(crate) ready: fn(u64, Readiness),
    /// A user callback panicked inside `ready`: clean up the source.
    pub(crate) on_panic: fn(u64),
}

/// What an event says about a source (a copy of mio's flags, so the loop
/// can hand it on after releasing the event buffer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its writing side (the EOF is still to be read).
    pub(crate) read_closed: bool,
    pub(crate) error: bool,
}

impl Readiness {
    pub(crate) fn of(event: &mio::event::Event) -> Readiness {
        Readiness {
            readable: event.is_readable(),
            writable: event.is_writable(),
            read_closed: event.is_read_closed(),
            error: event.is_error(),
        }
    }
}

/// The key of a registered source, to deregister it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceKey(Token);

struct SourceRec {
    gen: u32,
    handler: &'static IoHandler,
    ctx: u64,
}

/// The table of registered sources; a token is `slot | generation << 32`,
/// so readiness for a source whose slot was reused is dropped.
#[derive(Default)]
pub(crate) struct Sources {
    table: Slab<SourceRec>,
    next_gen: u32,
}

impl Sources {
    pub(crate) fn register(
        &mut self,
        registry: &mio::Registry,
        source: &mut dyn mio::event::Source,
        interest: Interest,
        handler: &'static IoHandler,
        ctx: u64,
    ) -> io::Result<SourceKey> {
        self.next_gen = self.next_gen.wrapping_add(1) & 0x7fff_ffff;
        let gen = self.next_gen;
        let entry = self.table.vacant_entry();
        let token = Token(entry.key() | ((gen as usize) << 32));
        registry.register(source, token, interest)?;
        entry.insert(SourceRec { gen, handler, ctx });
        Ok(SourceKey(token))
    }

    pub(crate) fn deregister(
        &mut self,
        registry: &mio::Registry,
        source: &mut dyn mio::event::Source,
        key: SourceKey,
    ) {
        let _ = registry.deregister(source);
        let slot = key.0 .0 & 0xffff_ffff;
        if self
            .table
            .get(slot)
            .is_some_and(|s| s.gen as usize == key.0 .0 >> 32)
        {
            self.table.remove(slot);
        }
    }

    /// The handler and context a token names, if it is still registered.
    pub(crate) fn lookup(&self, token: Token) -> Option<(&'static IoHandler, u64)> {
        let rec = self.table.get(token.0 & 0xffff_ffff)?;
        (rec.gen as usize == token.0 >> 32).then_some((rec.handler, rec.ctx))
    }
}
