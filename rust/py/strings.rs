//! A cache of Python strings for the fields that repeat on every frame (join_ref, topic,
//! event), so a busy channel's topic is one shared object rather than a new one per message.
//!
//! An open-addressing table (linear probing, at most half full) that doubles from 1,024 to
//! 16,384 slots as strings come, and starts over empty when the largest is half full: memory
//! stays bounded whatever the server sends, and a socket with thousands of topics still hits.
//! It replaced a direct-mapped array of 1,024 slots, where S3's 2,000 topics evicted each
//! other on nearly every message: 330 instructions per S3 message more in the cache alone
//! (callgrind, issue 17), and a fresh string that Python must hash again to route it.

use pyo3::prelude::*;
use pyo3::types::PyString;

const MIN_SLOTS: usize = 1024;
const MAX_SLOTS: usize = 16 * 1024;
const MAX_LEN: usize = 64;

struct Entry {
    hash: u64,
    key: Box<str>,
    value: Py<PyString>,
}

/// The envelope fields that go through the cache, each remembering its last slot.
#[derive(Clone, Copy)]
pub enum Field {
    JoinRef = 0,
    Topic = 1,
    Event = 2,
}

pub struct StringCache {
    slots: Vec<Option<Entry>>,
    len: usize,
    /// The slot each field was last found in: a burst on one channel repeats its join_ref,
    /// topic and event frame after frame, and one compare there skips hashing and probing
    /// (callgrind per message, issue 17: S1 126 instructions fewer; S3, whose topic changes
    /// every message, 23 more, a compare that fails). A slot that was moved or reused since
    /// is only a miss: the key is compared.
    last: [usize; 3 + KEY_MEMOS],
}

/// Payload keys remembered by their position in their object (see `get_key`).
const KEY_MEMOS: usize = 8;

impl Default for StringCache {
    fn default() -> Self {
        Self { slots: empty_slots(MIN_SLOTS), len: 0, last: [usize::MAX; 3 + KEY_MEMOS] }
    }
}

fn empty_slots(n: usize) -> Vec<Option<Entry>> {
    (0..n).map(|_| None).collect()
}

/// A word-at-a-time multiplicative hash (FxHash's step): short keys, no need for DoS
/// resistance, since a collision only costs a longer probe and the table's size is bounded.
/// The last word overlaps the one before rather than being copied out byte by byte (a copy
/// of the tail was a `memcpy` call per lookup). Byte-at-a-time FNV-1a cost 4 instructions
/// a byte; this is about one.
#[inline]
fn hash_of(s: &[u8]) -> u64 {
    let n = s.len();
    let mut h = (n as u64).wrapping_mul(K);
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            h = mix(h, read8(s, i));
            i += 8;
        }
        h = mix(h, read8(s, n - 8));
    } else if n >= 4 {
        h = mix(h, (read4(s, 0) << 32) | read4(s, n - 4));
    } else if n > 0 {
        h = mix(h, u64::from(s[0]) | (u64::from(s[n / 2]) << 8) | (u64::from(s[n - 1]) << 16));
    }
    h
}

const K: u64 = 0x517c_c1b7_2722_0a95;

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(K)
}

#[inline]
fn read8(s: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(word)
}

#[inline]
fn read4(s: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

/// The slot of a hash: its top bits, the ones a multiplication mixes every input bit into
/// (the low bits of `load:x-0` .. `load:x-1999` barely differ: probing chains were long).
#[inline]
fn slot_of(hash: u64, slots: usize) -> usize {
    (hash >> (64 - slots.trailing_zeros())) as usize
}

impl StringCache {
    /// The string `s`, for the envelope field `field`.
    #[inline]
    pub fn get_field<'py>(&mut self, py: Python<'py>, s: &str, field: Field) -> Bound<'py, PyString> {
        self.get_memo(py, s, field as usize)
    }

    /// A payload key given as its UTF-8 bytes, the `ordinal`-th of its object: messages of
    /// one kind repeat their keys in the same order, so each position remembers its last
    /// slot as a field does, and a hit compares bytes without checking them for UTF-8 (the
    /// check cost 50 instructions a key). None if the bytes are not UTF-8.
    #[inline]
    pub fn get_key<'py>(
        &mut self,
        py: Python<'py>,
        key: &[u8],
        ordinal: usize,
    ) -> Option<Bound<'py, PyString>> {
        let memo = 3 + ordinal;
        if ordinal < KEY_MEMOS {
            if let Some(Some(e)) = self.slots.get(self.last[memo]) {
                if e.key.as_bytes() == key {
                    return Some(e.value.bind(py).clone());
                }
            }
        }
        let (value, slot) = self.lookup(py, std::str::from_utf8(key).ok()?);
        if ordinal < KEY_MEMOS {
            self.last[memo] = slot;
        }
        Some(value)
    }

    #[inline]
    fn get_memo<'py>(&mut self, py: Python<'py>, s: &str, memo: usize) -> Bound<'py, PyString> {
        if let Some(Some(e)) = self.slots.get(self.last[memo]) {
            if *e.key == *s {
                return e.value.bind(py).clone();
            }
        }
        let (value, slot) = self.lookup(py, s);
        self.last[memo] = slot;
        value
    }

    /// Makes `value` the object that later lookups of its text return (a channel's topic:
    /// routing then finds it in its dict by identity, and the socket holds one string per
    /// topic instead of two). A text too long to be cached is left alone.
    pub fn remember(&mut self, value: &Bound<'_, PyString>) -> PyResult<()> {
        let s = value.to_str()?;
        if s.len() > MAX_LEN {
            return Ok(());
        }
        let hash = hash_of(s.as_bytes());
        match self.find(hash, s) {
            Ok((i, _)) => {
                if let Some(e) = &mut self.slots[i] {
                    e.value = value.clone().unbind();
                }
            }
            Err(empty) => {
                self.place(empty, hash, s, value.clone().unbind());
            }
        }
        Ok(())
    }

    /// The string `s` (any other field).
    #[inline]
    pub fn get<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        self.lookup(py, s).0
    }

    /// The string and the slot it is in (`usize::MAX` for one too long to be cached).
    #[inline]
    fn lookup<'py>(&mut self, py: Python<'py>, s: &str) -> (Bound<'py, PyString>, usize) {
        if s.len() > MAX_LEN {
            return (PyString::new(py, s), usize::MAX);
        }
        let hash = hash_of(s.as_bytes());
        match self.find(hash, s) {
            Ok((i, value)) => (value.bind(py).clone(), i),
            Err(empty) => {
                let value = PyString::new(py, s);
                let i = self.place(empty, hash, s, value.clone().unbind());
                (value, i)
            }
        }
    }

    /// The slot holding `s` and its string, or the empty slot where `s` would go (linear
    /// probing from the hash's slot).
    #[inline]
    fn find(&self, hash: u64, s: &str) -> Result<(usize, &Py<PyString>), usize> {
        let mask = self.slots.len() - 1;
        let mut i = slot_of(hash, mask + 1);
        loop {
            match &self.slots[i] {
                Some(e) if e.hash == hash && *e.key == *s => return Ok((i, &e.value)),
                Some(_) => i = (i + 1) & mask,
                None => return Err(i),
            }
        }
    }

    /// Puts a new entry for `s` in the empty slot `empty` (found by `find`), growing the
    /// table first when it is due to; returns the slot it went to.
    fn place(&mut self, empty: usize, hash: u64, s: &str, value: Py<PyString>) -> usize {
        let at = if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
            match self.find(hash, s) {
                Ok((i, _)) | Err(i) => i, // absent before, so absent after: Err
            }
        } else {
            empty
        };
        self.slots[at] = Some(Entry { hash, key: s.into(), value });
        self.len += 1;
        at
    }

    /// Doubles the table, or empties it once it is as large as it may get.
    #[cold]
    fn grow(&mut self) {
        let size = self.slots.len();
        if size >= MAX_SLOTS {
            self.slots = empty_slots(size);
            self.len = 0;
            return;
        }
        let old = std::mem::replace(&mut self.slots, empty_slots(size * 2));
        let mask = self.slots.len() - 1;
        for entry in old.into_iter().flatten() {
            let mut i = slot_of(entry.hash, mask + 1);
            while self.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            self.slots[i] = Some(entry);
        }
    }
}
