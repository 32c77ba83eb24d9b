//! `Pending` (pushes awaiting a reply, by ref, with their timeouts in one timing wheel) and
//! `TimerWheel` (the same wheel for any other timeout).
//!
//! Nothing here reads a clock: every call that needs the time takes `now` in loop-clock
//! seconds, so tests run on fake time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::PyTraverseError;

use crate::refs::RefCounter;
use crate::wheel::{SecondsWheel, TimerError, TimerId};

fn timer_error(err: TimerError) -> PyErr {
    match err {
        TimerError::NotANumber => PyValueError::new_err(err.to_string()),
        TimerError::Full => PyMemoryError::new_err(err.to_string()),
    }
}

fn new_wheel<T>(resolution: f64) -> PyResult<SecondsWheel<T>> {
    SecondsWheel::new(resolution).ok_or_else(|| {
        PyValueError::new_err(format!("resolution must be a positive number of seconds, not {resolution}"))
    })
}

fn check_time(t: Option<f64>) -> PyResult<()> {
    if t.is_some_and(f64::is_nan) {
        return Err(timer_error(TimerError::NotANumber));
    }
    Ok(())
}

/// A ref as a table key. Refs from `make_ref` are canonical decimals and are kept as numbers
/// (no allocation, a cheap hash); any other string is kept as text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RefKey {
    Num(u64),
    Text(Arc<str>),
}

/// The number a canonical decimal ref stands for ("0", or digits without a leading zero).
fn parse_ref(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    // 19 digits always fit in a u64.
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

/// Pending entries by ref: numeric refs in one map, any other ref in another.
#[derive(Default)]
struct RefTable {
    nums: HashMap<u64, Held, BuildHasherDefault<NumHasher>>,
    texts: HashMap<Arc<str>, Held>,
}

impl RefTable {
    fn key(text: &str) -> RefKey {
        parse_ref(text).map_or_else(|| RefKey::Text(Arc::from(text)), RefKey::Num)
    }

    fn remove(&mut self, text: &str) -> Option<Held> {
        match parse_ref(text) {
            Some(n) => self.nums.remove(&n),
            None => self.texts.remove(text),
        }
    }

    fn remove_key(&mut self, key: &RefKey) -> Option<Held> {
        match key {
            RefKey::Num(n) => self.nums.remove(n),
            RefKey::Text(text) => self.texts.remove(text),
        }
    }

    /// Inserts, returning the entry the key had before.
    fn insert(&mut self, key: RefKey, held: Held) -> Option<Held> {
        match key {
            RefKey::Num(n) => self.nums.insert(n, held),
            RefKey::Text(text) => self.texts.insert(text, held),
        }
    }

    fn contains(&self, text: &str) -> bool {
        match parse_ref(text) {
            Some(n) => self.nums.contains_key(&n),
            None => self.texts.contains_key(text),
        }
    }

    fn len(&self) -> usize {
        self.nums.len() + self.texts.len()
    }

    fn values(&self) -> impl Iterator<Item = &Held> {
        self.nums.values().chain(self.texts.values())
    }

    fn drain(&mut self) -> impl Iterator<Item = Held> + '_ {
        self.nums.drain().map(|(_, held)| held).chain(self.texts.drain().map(|(_, held)| held))
    }
}

/// A pending push: the item, its ref (to find it again when its timer fires) and its place in
/// the order of `add` calls (for `drain`).
struct Entry {
    item: Py<PyAny>,
    key: RefKey,
    order: u64,
}

/// Where a ref's entry lives: in the wheel, or here when it has no timeout.
enum Held {
    Timed(TimerId),
    Untimed(Entry),
}

/// Pushes awaiting a reply, by ref, with their timeouts in a timing wheel.
#[pyclass(module = "phoenix_fast._native")]
pub struct Pending {
    refs: RefCounter,
    table: RefTable,
    wheel: SecondsWheel<Entry>,
    order: u64,
}

impl Pending {
    /// The item of a removed entry, with its timer cancelled.
    fn release(&mut self, held: Held) -> Option<Py<PyAny>> {
        match held {
            Held::Timed(id) => self.wheel.cancel(id).map(|entry| entry.item),
            Held::Untimed(entry) => Some(entry.item),
        }
    }

    fn take(&mut self, text: &str) -> Option<Py<PyAny>> {
        let held = self.table.remove(text)?;
        self.release(held)
    }
}

#[pymethods]
impl Pending {
    #[new]
    #[pyo3(signature = (resolution = 0.001))]
    fn new(resolution: f64) -> PyResult<Self> {
        Ok(Self {
            refs: RefCounter::new(),
            table: RefTable::default(),
            wheel: new_wheel(resolution)?,
            order: 0,
        })
    }

    /// The wheel's tick in seconds.
    #[getter]
    fn resolution(&self) -> f64 {
        self.wheel.resolution()
    }

    /// The next ref, with the JS client's rules: "1" first; after 2**53 it wraps to "0".
    fn make_ref(&mut self) -> String {
        self.refs.next_ref()
    }

    /// The ref counter's current value (the last ref made).
    #[getter(r#ref)]
    fn ref_value(&self) -> u64 {
        self.refs.value()
    }

    /// Sets the ref counter (for tests of the wrap rule); 0 to 2**53.
    fn set_ref(&mut self, value: u64) -> PyResult<()> {
        self.refs.set(value).map_err(|err| PyValueError::new_err(err.to_string()))
    }

    /// Registers `item` awaiting a reply to `ref`, timing out at `deadline` (loop-clock seconds)
    /// or never if None. An existing entry for `ref` is replaced, timer and all.
    #[pyo3(signature = (r#ref, item, deadline))]
    fn add(&mut self, r#ref: &str, item: Py<PyAny>, deadline: Option<f64>) -> PyResult<()> {
        check_time(deadline)?;
        let key = RefTable::key(r#ref);
        let entry = Entry { item, key: key.clone(), order: self.order };
        self.order += 1;
        let held = match deadline {
            None => Held::Untimed(entry),
            Some(deadline) => Held::Timed(self.wheel.insert(deadline, entry).map_err(timer_error)?),
        };
        if let Some(old) = self.table.insert(key, held) {
            let replaced = self.release(old);
            drop(replaced);
        }
        Ok(())
    }

    /// `make_ref` and `add` in one call (the path of every push): returns the new ref.
    #[pyo3(signature = (item, deadline))]
    fn add_next(&mut self, item: Py<PyAny>, deadline: Option<f64>) -> PyResult<String> {
        check_time(deadline)?;
        let r#ref = self.refs.next_ref();
        self.add(&r#ref, item, deadline)?;
        Ok(r#ref)
    }

    /// Pops the item for `ref` and cancels its timer; None if `ref` is unknown.
    fn resolve(&mut self, r#ref: &str) -> Option<Py<PyAny>> {
        self.take(r#ref)
    }

    /// Same as `resolve`, for cancellation: the item if there was one.
    fn discard(&mut self, r#ref: &str) -> Option<Py<PyAny>> {
        self.take(r#ref)
    }

    /// Changes a pending entry's deadline (None: no timeout); False if `ref` is unknown.
    #[pyo3(signature = (r#ref, deadline))]
    fn reschedule(&mut self, r#ref: &str, deadline: Option<f64>) -> PyResult<bool> {
        check_time(deadline)?;
        let Some(held) = self.table.remove(r#ref) else {
            return Ok(false);
        };
        let (key, held) = match (held, deadline) {
            (Held::Timed(id), Some(deadline)) => {
                let Some(key) = self.wheel.get(id).map(|entry| entry.key.clone()) else {
                    return Ok(false);
                };
                self.wheel.reschedule(id, deadline).map_err(timer_error)?;
                (key, Held::Timed(id))
            }
            (Held::Timed(id), None) => match self.wheel.cancel(id) {
                Some(entry) => (entry.key.clone(), Held::Untimed(entry)),
                None => return Ok(false),
            },
            (Held::Untimed(entry), Some(deadline)) => {
                let key = entry.key.clone();
                (key, Held::Timed(self.wheel.insert(deadline, entry).map_err(timer_error)?))
            }
            (Held::Untimed(entry), None) => (entry.key.clone(), Held::Untimed(entry)),
        };
        self.table.insert(key, held);
        Ok(true)
    }

    /// Removes and returns every item whose deadline is <= `now`, by deadline then insertion.
    fn expire(&mut self, now: f64) -> PyResult<Vec<Py<PyAny>>> {
        let mut fired = Vec::new();
        self.wheel.expire(now, &mut fired).map_err(timer_error)?;
        Ok(fired
            .into_iter()
            .map(|entry| {
                self.table.remove_key(&entry.key);
                entry.item
            })
            .collect())
    }

    /// The earliest pending deadline, or an earlier time at which `expire` makes progress;
    /// None if no timer is armed.
    fn next_deadline(&self) -> Option<f64> {
        self.wheel.next_deadline()
    }

    /// Removes and returns every item (timed or not) in the order they were added.
    fn drain(&mut self) -> Vec<Py<PyAny>> {
        let mut entries = self.wheel.drain();
        entries.extend(self.table.drain().filter_map(|held| match held {
            Held::Untimed(entry) => Some(entry),
            Held::Timed(_) => None,
        }));
        entries.sort_unstable_by_key(|entry| entry.order);
        entries.into_iter().map(|entry| entry.item).collect()
    }

    /// The number of armed timers.
    fn timers(&self) -> usize {
        self.wheel.len()
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }

    fn __contains__(&self, r#ref: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(text) = r#ref.cast::<PyString>() else {
            return Ok(false);
        };
        Ok(self.table.contains(text.to_str()?))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for entry in self.wheel.iter() {
            visit.call(&entry.item)?;
        }
        for held in self.table.values() {
            if let Held::Untimed(entry) = held {
                visit.call(&entry.item)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.table = RefTable::default();
        self.wheel.drain();
    }
}

/// A timing wheel of timeouts on the loop clock: O(1) insert and cancel, exact deadlines.
#[pyclass(name = "TimerWheel", module = "phoenix_fast._native")]
pub struct PyTimerWheel {
    wheel: SecondsWheel<Py<PyAny>>,
}

#[pymethods]
impl PyTimerWheel {
    #[new]
    #[pyo3(signature = (resolution = 0.001))]
    fn new(resolution: f64) -> PyResult<Self> {
        Ok(Self { wheel: new_wheel(resolution)? })
    }

    /// The wheel's tick in seconds.
    #[getter]
    fn resolution(&self) -> f64 {
        self.wheel.resolution()
    }

    /// Arms a timer for `item` at `deadline` (loop-clock seconds); returns its id.
    fn insert(&mut self, deadline: f64, item: Py<PyAny>) -> PyResult<u64> {
        self.wheel.insert(deadline, item).map(TimerId::to_raw).map_err(timer_error)
    }

    /// Disarms a timer; its item, or None if it already fired or was cancelled.
    fn cancel(&mut self, id: u64) -> Option<Py<PyAny>> {
        self.wheel.cancel(TimerId::from_raw(id))
    }

    /// Moves an armed timer to a new deadline; False if it is not armed.
    fn reschedule(&mut self, id: u64, deadline: f64) -> PyResult<bool> {
        self.wheel.reschedule(TimerId::from_raw(id), deadline).map_err(timer_error)
    }

    /// Removes and returns every item whose deadline is <= `now`, by deadline then insertion.
    fn expire(&mut self, now: f64) -> PyResult<Vec<Py<PyAny>>> {
        let mut fired = Vec::new();
        self.wheel.expire(now, &mut fired).map_err(timer_error)?;
        Ok(fired)
    }

    /// The earliest deadline, or an earlier time at which `expire` makes progress; None if empty.
    fn next_deadline(&self) -> Option<f64> {
        self.wheel.next_deadline()
    }

    /// Disarms every timer, returning the items in insertion order.
    fn drain(&mut self) -> Vec<Py<PyAny>> {
        self.wheel.drain()
    }

    fn __len__(&self) -> usize {
        self.wheel.len()
    }

    fn __contains__(&self, id: &Bound<'_, PyAny>) -> bool {
        id.extract::<u64>().is_ok_and(|id| self.wheel.get(TimerId::from_raw(id)).is_some())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for item in self.wheel.iter() {
            visit.call(item)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.wheel.drain();
    }
}
