//! A small cache of Python strings for the fields that repeat on every frame (join_ref, topic,
//! event), so a busy channel's topic is one shared object rather than a new one per message.
//!
//! Direct-mapped: a string hashes to one slot; a hit compares bytes, a miss replaces the slot.
//! That bounds memory and costs one short hash and one compare per lookup.

use pyo3::prelude::*;
use pyo3::types::PyString;

const SLOTS: usize = 1024;
const MAX_LEN: usize = 64;

pub struct StringCache {
    slots: Vec<Option<(Box<str>, Py<PyString>)>>,
}

impl Default for StringCache {
    fn default() -> Self {
        Self { slots: (0..SLOTS).map(|_| None).collect() }
    }
}

/// FNV-1a: short keys, no need for DoS resistance (a collision only costs a cache miss).
#[inline]
fn slot_of(s: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in s {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h as usize) & (SLOTS - 1)
}

impl StringCache {
    #[inline]
    pub fn get<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if s.len() > MAX_LEN {
            return PyString::new(py, s);
        }
        let slot = &mut self.slots[slot_of(s.as_bytes())];
        if let Some((key, value)) = slot {
            if **key == *s {
                return value.bind(py).clone();
            }
        }
        let value = PyString::new(py, s);
        *slot = Some((s.into(), value.clone().unbind()));
        value
    }
}
