//! Refs: the socket's ref counter and the table that finds a pending entry by its ref.
//!
//! The counter follows the official JS client. The JS client keeps its counter in a JS number:
//! it returns `"1"` first, then `"2"`, and so on; when adding one no longer changes the number
//! (2^53 + 1 rounds back to 2^53), it wraps to `"0"`. Here the counter is a `u64` that wraps
//! from 2^53 to 0, which gives the same sequence.
//!
//! The table keys a ref made by the counter (a canonical decimal) as a number, with no
//! allocation and a cheap hash; any other ref (a server can echo any string) as text.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The last value before the counter wraps to 0 (`Number.MAX_SAFE_INTEGER + 1`).
pub const WRAP_AT: u64 = 1 << 53;

/// A ref counter operation the JS client could not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// A value the JS counter can never hold (above 2^53).
    OutOfRange(u64),
}

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange(value) => {
                write!(f, "ref {value} is out of range: a ref counter holds 0 to 2**53")
            }
        }
    }
}

impl std::error::Error for RefError {}

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
    pub fn set(&mut self, value: u64) -> Result<(), RefError> {
        if value > WRAP_AT {
            return Err(RefError::OutOfRange(value));
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

/// A ref as a table key: a canonical decimal as its number, any other ref as its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefKey {
    Num(u64),
    Text(Arc<str>),
}

impl RefKey {
    /// The key of `text`.
    pub fn of(text: &str) -> Self {
        parse_ref(text).map_or_else(|| Self::Text(Arc::from(text)), Self::Num)
    }
}

/// The number a canonical decimal ref stands for ("0", or digits without a leading zero, that
/// fit in a `u64`); `None` for any other text, which is then keyed as text.
pub fn parse_ref(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    // 19 digits always fit in a u64; 20 may not, and such refs are rare enough to go as text.
    if bytes.is_empty() || bytes.len() > 19 || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// A multiplicative hash for numeric refs: refs are sequential and come from this process, so
/// a keyed hash buys nothing, and the multiply spreads them across the table's control bits.
#[derive(Default)]
struct NumHasher(u64);

impl Hasher for NumHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Values by ref: numeric refs in one map, any other ref in another. A ref and its key name
/// the same entry: `"7"` and `RefKey::Num(7)` do, `"07"` is another ref.
pub struct RefTable<V> {
    nums: HashMap<u64, V, BuildHasherDefault<NumHasher>>,
    texts: HashMap<Arc<str>, V>,
}

impl<V> Default for RefTable<V> {
    fn default() -> Self {
        Self { nums: HashMap::default(), texts: HashMap::new() }
    }
}

impl<V> fmt::Debug for RefTable<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefTable").field("nums", &self.nums.len()).field("texts", &self.texts.len()).finish()
    }
}

impl<V> RefTable<V> {
    /// Removes and returns the value of `text`.
    pub fn remove(&mut self, text: &str) -> Option<V> {
        match parse_ref(text) {
            Some(n) => self.nums.remove(&n),
            None => self.texts.remove(text),
        }
    }

    /// Removes and returns the value of `key`.
    pub fn remove_key(&mut self, key: &RefKey) -> Option<V> {
        match key {
            RefKey::Num(n) => self.nums.remove(n),
            RefKey::Text(text) => self.texts.remove(text),
        }
    }

    /// Inserts, returning the value the key had before.
    pub fn insert(&mut self, key: RefKey, value: V) -> Option<V> {
        match key {
            RefKey::Num(n) => self.nums.insert(n, value),
            RefKey::Text(text) => self.texts.insert(text, value),
        }
    }

    /// The value of `text`, left in place.
    pub fn get(&self, text: &str) -> Option<&V> {
        match parse_ref(text) {
            Some(n) => self.nums.get(&n),
            None => self.texts.get(text),
        }
    }

    /// Whether `text` has a value.
    pub fn contains(&self, text: &str) -> bool {
        match parse_ref(text) {
            Some(n) => self.nums.contains_key(&n),
            None => self.texts.contains_key(text),
        }
    }

    /// The number of refs held.
    pub fn len(&self) -> usize {
        self.nums.len() + self.texts.len()
    }

    /// Whether no ref is held.
    pub fn is_empty(&self) -> bool {
        self.nums.is_empty() && self.texts.is_empty()
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.nums.values().chain(self.texts.values())
    }

    /// Removes and returns every value, in no particular order.
    pub fn drain(&mut self) -> impl Iterator<Item = V> + '_ {
        self.nums.drain().map(|(_, value)| value).chain(self.texts.drain().map(|(_, value)| value))
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
        assert_eq!(refs.set(WRAP_AT + 1), Err(RefError::OutOfRange(WRAP_AT + 1)));
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

    #[test]
    fn canonical_decimals_parse_as_numbers() {
        assert_eq!(parse_ref("0"), Some(0));
        assert_eq!(parse_ref("1"), Some(1));
        assert_eq!(parse_ref("9007199254740992"), Some(WRAP_AT));
        assert_eq!(parse_ref("9999999999999999999"), Some(9_999_999_999_999_999_999));
        for text in ["", "01", "00", "-1", "+1", "1.0", " 1", "1 ", "a", "12345678901234567890", "١"] {
            assert_eq!(parse_ref(text), None, "{text:?}");
        }
    }

    #[test]
    fn keys_follow_the_parse() {
        assert_eq!(RefKey::of("42"), RefKey::Num(42));
        assert_eq!(RefKey::of("042"), RefKey::Text(Arc::from("042")));
        assert_eq!(RefKey::of("join"), RefKey::Text(Arc::from("join")));
    }

    #[test]
    fn a_ref_and_its_key_name_one_entry() {
        let mut table = RefTable::default();
        assert!(table.is_empty());
        assert_eq!(table.insert(RefKey::of("7"), 'a'), None);
        assert_eq!(table.insert(RefKey::of("07"), 'b'), None);
        assert_eq!(table.insert(RefKey::of("x"), 'c'), None);
        assert_eq!(table.len(), 3);
        assert!(table.contains("7") && table.contains("07") && table.contains("x"));
        assert!(!table.contains("8") && !table.contains("y"));
        // Replacing returns the value before.
        assert_eq!(table.insert(RefKey::Num(7), 'd'), Some('a'));
        assert_eq!(table.remove("7"), Some('d'));
        assert_eq!(table.remove("7"), None);
        assert_eq!(table.remove_key(&RefKey::of("07")), Some('b'));
        assert_eq!(table.remove_key(&RefKey::of("07")), None);
        assert_eq!(table.len(), 1);
        assert_eq!(table.values().copied().collect::<Vec<_>>(), ['c']);
    }

    #[test]
    fn drain_empties_both_maps() {
        let mut table = RefTable::default();
        for n in 0..100u32 {
            table.insert(RefKey::of(&n.to_string()), n);
            table.insert(RefKey::of(&format!("t{n}")), n + 1000);
        }
        assert_eq!(table.len(), 200);
        let mut drained: Vec<u32> = table.drain().collect();
        drained.sort_unstable();
        let mut expected: Vec<u32> = (0..100).chain(1000..1100).collect();
        expected.sort_unstable();
        assert_eq!(drained, expected);
        assert!(table.is_empty());
    }

    #[test]
    fn sequential_refs_spread_over_the_hash() {
        // The table compares the top 7 bits of a hash first: sequential refs must spread there
        // (the low bits, which pick the bucket, are a bijection of the ref: the factor is odd).
        let buckets: std::collections::HashSet<u64> = (1..=128u64)
            .map(|n| {
                let mut hasher = NumHasher::default();
                hasher.write_u64(n);
                hasher.finish() >> 57
            })
            .collect();
        assert!(buckets.len() > 64, "{} of 128", buckets.len());
    }
}
