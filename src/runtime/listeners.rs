//! Event listeners with Node's EventEmitter rules, and the emit discipline
//! that keeps user code away from borrowed runtime state.

/// The listeners of one event, in registration order.
///
/// To emit, the runtime *takes* the list out of its record, releases the
/// core, calls each listener, then [`restores`](Listeners::restore) it. A
/// listener added during the emit lands in the record meanwhile and is kept
/// after the old ones, so it runs from the next emit on (Node's
/// `listeners.slice()` rule).
pub(crate) struct Listeners<F: ?Sized>(Vec<Box<F>>);

impl<F: ?Sized> Default for Listeners<F> {
    fn default() -> Self {
        Listeners(Vec::new())
    }
}

impl<F: ?Sized> std::fmt::Debug for Listeners<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listeners({})", self.0.len())
    }
}

impl<F: ?Sized> Listeners<F> {
    pub(crate) fn push(&mut self, f: Box<F>) {
        self.0.push(f);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn take(&mut self) -> Listeners<F> {
        std::mem::take(self)
    }

    /// Puts taken listeners back in front of any added while they were out.
    pub(crate) fn restore(&mut self, taken: Listeners<F>) {
        let added = std::mem::replace(&mut self.0, taken.0);
        self.0.extend(added);
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Box<F>> {
        self.0.iter_mut()
    }
}

/// Emits an event. `locate(f)` must run `f` on the event's listeners inside
/// the owning layer's borrow and return whether the record was found. The
/// listeners are taken out of their record, called with `call` outside the
/// borrow, then put back in front of any added meanwhile; if the record is
/// gone by then they are dropped, outside the borrow too. They are put back
/// even when a listener panics. Returns whether anyone listened.
pub(crate) fn emit<F: ?Sized + 'static>(
    locate: impl Fn(&mut dyn FnMut(&mut Listeners<F>)) -> bool,
    mut call: impl FnMut(&mut F),
) -> bool {
    let mut taken = None;
    locate(&mut |l| {
        if !l.is_empty() {
            taken = Some(l.take());
        }
    });
    let Some(mut taken) = taken else { return false };
    // A panicking listener stops this emit (as a throwing one does in
    // Node) but stays registered: the list goes back before the panic goes
    // on.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for f in taken.iter_mut() {
            call(f);
        }
    }));
    let mut back = Some(taken);
    locate(&mut |l| {
        if let Some(taken) = back.take() {
            l.restore(taken);
        }
    });
    drop(back);
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
    true
}
