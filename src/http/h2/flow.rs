//! Flow control (RFC 9113 §5.2, §6.9): [`Window`], a credit that goes
//! down with each DATA frame and up with each WINDOW_UPDATE, and
//! [`RecvWindow`], our side of a window we grant, which batches the
//! WINDOW_UPDATEs it takes to give credit back.

/// The largest a window may be: 2^31 - 1 (§6.9.1).
const MAX_WINDOW: i64 = (1 << 31) - 1;

/// A flow-control window. Signed on purpose: a smaller
/// SETTINGS_INITIAL_WINDOW_SIZE can leave a stream's window negative
/// (§6.9.2), and then nothing may be sent until updates bring it back
/// above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window(i32);

/// A window would pass 2^31 - 1: FLOW_CONTROL_ERROR (§6.9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

impl Window {
    /// A window of `initial` bytes (at most 2^31 - 1; more is clamped,
    /// callers have checked it).
    pub(crate) fn new(initial: u32) -> Window {
        Window(i64::from(initial).min(MAX_WINDOW) as i32)
    }

    /// How many bytes may be sent now (0 when negative).
    pub(crate) fn available(&self) -> u32 {
        self.0.max(0) as u32
    }

    /// Spends `n` bytes; fails (changing nothing) when more than is
    /// available: for DATA received, that is the peer overrunning.
    pub(crate) fn consume(&mut self, n: u32) -> Result<(), Overflow> {
        if n > self.available() {
            return Err(Overflow);
        }
        self.0 -= n as i32;
        Ok(())
    }

    /// Adds `n` bytes of credit (a WINDOW_UPDATE).
    pub(crate) fn grow(&mut self, n: u32) -> Result<(), Overflow> {
        self.adjust(i64::from(n))
    }

    /// Moves the window by `delta`, which a change of
    /// SETTINGS_INITIAL_WINDOW_SIZE applies to every stream (§6.9.2); the
    /// result may be negative but never over 2^31 - 1.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = i64::from(self.0) + delta;
        if next > MAX_WINDOW || next < i64::from(i32::MIN) {
            return Err(Overflow);
        }
        self.0 = next as i32;
        Ok(())
    }
}

/// A window we grant to the peer, with the bytes it sent that the
/// application has not released yet and those released but not yet
/// announced. Credit is given back in one WINDOW_UPDATE once half the
/// window's target is waiting: one frame per half window instead of one
/// per DATA frame, and never so late that the peer stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    pub(crate) window: Window,
    /// Received and not yet released by the application.
    held: u32,
    /// Released and not yet announced.
    pending: u32,
}

impl RecvWindow {
    pub(crate) fn new(initial: u32) -> RecvWindow {
        RecvWindow {
            window: Window::new(initial),
            held: 0,
            pending: 0,
        }
    }

    /// `n` bytes arrived: fails when that passes what we granted.
    pub(crate) fn receive(&mut self, n: u32) -> Result<(), Overflow> {
        self.window.consume(n)?;
        self.held = self.held.saturating_add(n);
        Ok(())
    }

    /// The application is done with `n` bytes (more than it holds counts
    /// as all of them: a careless caller cannot inflate the window).
    /// Returns how many bytes that was, and the increment to announce
    /// when it is time to.
    pub(crate) fn release(&mut self, n: u32, target: u32) -> (u32, Option<u32>) {
        let n = n.min(self.held);
        self.held -= n;
        self.pending = self.pending.saturating_add(n);
        if self.pending == 0 || self.pending < (target / 2).max(1) {
            return (n, None);
        }
        let increment = self.pending;
        // Cannot overflow: window + held + pending never passes what was
        // granted, which is at most 2^31 - 1. Checked all the same.
        if self.window.grow(increment).is_err() {
            return (n, None);
        }
        self.pending = 0;
        (n, Some(increment))
    }

    /// Received and not yet released: what a stream that goes away still
    /// holds of the connection's window.
    pub(crate) fn held(&self) -> u32 {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_overflow_past_2_pow_31_minus_1_fails() {
        let mut w = Window::new(65_535);
        w.grow((1 << 31) - 1 - 65_535).unwrap();
        assert_eq!(w.available(), (1 << 31) - 1);
        assert_eq!(w.grow(1), Err(Overflow));
        assert_eq!(w.available(), (1 << 31) - 1);
    }

    #[test]
    fn settings_changes_may_make_a_window_negative() {
        let mut w = Window::new(100);
        w.consume(80).unwrap();
        w.adjust(-65_535 + 10).unwrap();
        assert_eq!(w.available(), 0);
        w.grow(65_000).unwrap();
        assert_eq!(w.available(), 0); // still -505
        w.grow(512).unwrap();
        assert_eq!(w.available(), 7);
        assert_eq!(w.consume(w.available() + 1), Err(Overflow));
    }

    #[test]
    fn receive_past_the_window_fails() {
        let mut r = RecvWindow::new(10);
        r.receive(10).unwrap();
        assert_eq!(r.receive(1), Err(Overflow));
    }

    #[test]
    fn releases_are_batched_by_half_the_target() {
        let mut r = RecvWindow::new(100);
        r.receive(100).unwrap();
        assert_eq!(r.release(30, 100), (30, None));
        assert_eq!(r.release(30, 100), (30, Some(60)));
        assert_eq!(r.window.available(), 60);
        // Releasing more than was received counts only what was.
        assert_eq!(r.release(1000, 100), (40, None));
        assert_eq!(r.held(), 0);
    }
}
