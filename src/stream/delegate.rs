//! The traits for handles whose own methods already keep the contract.
//!
//! Every HTTP handle has inherent methods with the traits' names and
//! meanings (`res.write`, `req.pause`, ...), so a Node program calls them
//! with no import. These macros tell the traits so, one line per handle,
//! instead of forty lines of `fn write(..) { Self::write(..) }` each.

/// Implements [`Readable`](crate::stream::Readable) for a handle with
/// inherent `on_data`, `on_end`, `pause`, `resume`, `is_paused` and
/// `readable_ended`.
macro_rules! readable_by_its_own_methods {
    ($handle:ty) => {
        impl $crate::stream::Readable for $handle {
            fn on_data(&self, f: impl FnMut($crate::Chunk<'_>) + 'static) {
                <$handle>::on_data(self, f);
            }
            fn on_end(&self, f: impl FnMut() + 'static) {
                <$handle>::on_end(self, f);
            }
            fn pause(&self) {
                <$handle>::pause(self);
            }
            fn resume(&self) {
                <$handle>::resume(self);
            }
            fn is_paused(&self) -> bool {
                <$handle>::is_paused(self)
            }
            fn readable_ended(&self) -> bool {
                <$handle>::readable_ended(self)
            }
        }
    };
}

/// Implements [`Writable`](crate::stream::Writable) for a handle with
/// inherent `write`, `end`, `on_drain`, `on_finish`, `cork`, `uncork`,
/// `writable_ended`, `writable_finished`, `writable_length` and
/// `writable_high_water_mark`.
macro_rules! writable_by_its_own_methods {
    ($handle:ty) => {
        impl $crate::stream::Writable for $handle {
            fn write(&self, chunk: impl $crate::IntoChunk) -> bool {
                <$handle>::write(self, chunk)
            }
            fn end(&self, chunk: impl $crate::IntoChunk) {
                <$handle>::end(self, chunk);
            }
            fn on_drain(&self, f: impl FnMut() + 'static) {
                <$handle>::on_drain(self, f);
            }
            fn on_finish(&self, f: impl FnMut() + 'static) {
                <$handle>::on_finish(self, f);
            }
            fn cork(&self) {
                <$handle>::cork(self);
            }
            fn uncork(&self) {
                <$handle>::uncork(self);
            }
            fn writable_ended(&self) -> bool {
                <$handle>::writable_ended(self)
            }
            fn writable_finished(&self) -> bool {
                <$handle>::writable_finished(self)
            }
            fn writable_length(&self) -> usize {
                <$handle>::writable_length(self)
            }
            fn writable_high_water_mark(&self) -> usize {
                <$handle>::writable_high_water_mark(self)
            }
        }
    };
}

pub(crate) use readable_by_its_own_methods;
pub(crate) use writable_by_its_own_methods;
