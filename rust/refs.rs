//! The socket's ref counter, with the rules of the official JS client.
//!
//! The JS client keeps its counter in a JS number: it returns `"1"` first, then `"2"`, and so
//! on; when adding one no longer changes the number (2^53 + 1 rounds back to 2^53), it wraps to
//! `"0"`. Here the counter is a `u64` that wraps from 2^53 to 0, which gives the same sequence.

use std::fmt;

/// The last value before the counter wraps to 0 (`Number.MAX_SAFE_INTEGER + 1`).
pub const WRAP_AT: u64 = 1 << 53;

/// A value the JS counter can never hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefOutOfRange(pub u64);

impl fmt::Display for RefOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ref {} is out of range: a ref counter holds 0 to 2**53", self.0)
    }
}

impl std::error::Error for RefOutOfRange {}

/// The ref counter: starts at 0, and [`RefCounter::next`] returns 1 first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefCounter {
    value: u64,
}

impl RefCounter {
    /// A counter at 0.
    pub const fn new() -> Self {
        Self { value: 0 }
    }

    /// The current value (the last ref handed out).
    pub const fn value(self) -> u64 {
        self.value
    }

    /// Sets the current value (for tests of the wrap rule).
    pub fn set(&mut self, value: u64) -> Result<(), RefOutOfRange> {
        if value > WRAP_AT {
            return Err(RefOutOfRange(value));
        }
        self.value = value;
        Ok(())
    }

    /// Advances the counter and returns the new value.
    #[allow(clippy::should_implement_trait, reason = "a counter, not an iterator")]
    pub fn next(&mut self) -> u64 {
        self.value = if self.value >= WRAP_AT { 0 } else { self.value + 1 };
        self.value
    }

    /// Advances the counter and returns the new value as a ref string.
    pub fn next_ref(&mut self) -> String {
        self.next().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_one() {
        let mut refs = RefCounter::new();
        assert_eq!(refs.value(), 0);
        assert_eq!(refs.next_ref(), "1");
        assert_eq!(refs.next_ref(), "2");
        assert_eq!(refs.next(), 3);
        assert_eq!(refs.value(), 3);
    }

    #[test]
    fn wraps_where_js_numbers_stop() {
        let mut refs = RefCounter::new();
        refs.set(WRAP_AT - 1).unwrap();
        assert_eq!(refs.next_ref(), "9007199254740992");
        assert_eq!(refs.next_ref(), "0");
        assert_eq!(refs.next_ref(), "1");
    }

    #[test]
    fn rejects_values_js_cannot_hold() {
        let mut refs = RefCounter::new();
        assert_eq!(refs.set(WRAP_AT + 1), Err(RefOutOfRange(WRAP_AT + 1)));
        assert_eq!(refs.value(), 0);
        refs.set(WRAP_AT).unwrap();
        assert_eq!(refs.next(), 0);
    }

    #[test]
    #[allow(clippy::cast_precision_loss, clippy::float_cmp, reason = "the point: JS numbers are f64")]
    fn agrees_with_f64_arithmetic() {
        // The JS rule, in f64: next = ref + 1; if next == ref then 0 else next.
        for start in [0, 1, WRAP_AT - 3, WRAP_AT - 1, WRAP_AT] {
            let mut refs = RefCounter::new();
            refs.set(start).unwrap();
            let mut js = start as f64;
            for _ in 0..5 {
                let next = js + 1.0;
                js = if next == js { 0.0 } else { next };
                assert_eq!(refs.next() as f64, js);
            }
        }
    }
}
