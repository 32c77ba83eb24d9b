//! The pending table: items awaiting a reply, by ref, with their timeouts in one timing wheel.
//!
//! Generic over the item (the extension keeps Python objects in it; the tests keep numbers),
//! so every rule of the table is tested here with `cargo test` and no Python. Nothing here
//! reads a clock: every call that needs the time takes it, in seconds of the caller's clock.

use crate::refs::{RefCounter, RefError, RefKey, RefTable};
use crate::wheel::{SecondsWheel, TimerError, TimerId};

/// A pending item, its ref (to find it again when its timer fires) and its place in the order
/// of `add` calls (for `drain`).
struct Entry<T> {
    item: T,
    key: RefKey,
    order: u64,
}

/// Where a ref's entry lives: in the wheel, or in the table when it has no timeout.
enum Held<T> {
    Timed(TimerId),
    Untimed(Entry<T>),
}

/// Items awaiting a reply, by ref, each with an optional deadline.
pub struct PendingTable<T> {
    refs: RefCounter,
    table: RefTable<Held<T>>,
    wheel: SecondsWheel<Entry<T>>,
    order: u64,
}

fn check_time(t: Option<f64>) -> Result<(), TimerError> {
    if t.is_some_and(f64::is_nan) {
        return Err(TimerError::NotANumber);
    }
    Ok(())
}

impl<T> PendingTable<T> {
    /// An empty table whose wheel ticks every `resolution` seconds; `None` unless the
    /// resolution is finite and > 0.
    pub fn new(resolution: f64) -> Option<Self> {
        Some(Self {
            refs: RefCounter::new(),
            table: RefTable::default(),
            wheel: SecondsWheel::new(resolution)?,
            order: 0,
        })
    }

    /// The wheel's tick in seconds.
    pub const fn resolution(&self) -> f64 {
        self.wheel.resolution()
    }

    /// The next ref, with the JS client's rules: "1" first; after 2^53 it wraps to "0".
    pub fn make_ref(&mut self) -> String {
        self.refs.next_ref()
    }

    /// The ref counter's current value (the last ref made).
    pub const fn ref_value(&self) -> u64 {
        self.refs.value()
    }

    /// Sets the ref counter (for tests of the wrap rule); 0 to 2^53.
    pub fn set_ref(&mut self, value: u64) -> Result<(), RefError> {
        self.refs.set(value)
    }

    /// Registers `item` awaiting a reply to `ref`, timing out at `deadline` or never if `None`.
    /// An existing entry for `ref` is replaced, timer and all, and its item returned.
    pub fn add(&mut self, r#ref: &str, item: T, deadline: Option<f64>) -> Result<Option<T>, TimerError> {
        check_time(deadline)?;
        let key = RefKey::of(r#ref);
        let entry = Entry { item, key: key.clone(), order: self.order };
        self.order += 1;
        let held = match deadline {
            None => Held::Untimed(entry),
            Some(deadline) => Held::Timed(self.wheel.insert(deadline, entry)?),
        };
        Ok(self.table.insert(key, held).and_then(|old| self.release(old)))
    }

    /// `make_ref` and `add` in one call (the path of every push): returns the new ref. A bad
    /// deadline is refused before a ref is made.
    pub fn add_next(&mut self, item: T, deadline: Option<f64>) -> Result<String, TimerError> {
        check_time(deadline)?;
        let r#ref = self.refs.next_ref();
        // A fresh ref can still be held: the counter wrapped, or set_ref moved it back.
        let replaced = self.add(&r#ref, item, deadline)?;
        drop(replaced);
        Ok(r#ref)
    }

    /// Removes the item for `ref` and cancels its timer; `None` if `ref` is unknown.
    pub fn take(&mut self, r#ref: &str) -> Option<T> {
        let held = self.table.remove(r#ref)?;
        self.release(held)
    }

    /// The item for `ref`, left pending; `None` if `ref` is unknown.
    pub fn get(&self, r#ref: &str) -> Option<&T> {
        match self.table.get(r#ref)? {
            Held::Timed(id) => self.wheel.get(*id).map(|entry| &entry.item),
            Held::Untimed(entry) => Some(&entry.item),
        }
    }

    /// Changes a pending entry's deadline (`None`: no timeout); `Ok(false)` if `ref` is unknown.
    pub fn reschedule(&mut self, r#ref: &str, deadline: Option<f64>) -> Result<bool, TimerError> {
        check_time(deadline)?;
        let Some(held) = self.table.remove(r#ref) else {
            return Ok(false);
        };
        let (key, held) = match (held, deadline) {
            (Held::Timed(id), Some(deadline)) => {
                let Some(key) = self.wheel.get(id).map(|entry| entry.key.clone()) else {
                    return Ok(false);
                };
                self.wheel.reschedule(id, deadline)?;
                (key, Held::Timed(id))
            }
            (Held::Timed(id), None) => match self.wheel.cancel(id) {
                Some(entry) => (entry.key.clone(), Held::Untimed(entry)),
                None => return Ok(false),
            },
            (Held::Untimed(entry), Some(deadline)) => {
                let key = entry.key.clone();
                (key, Held::Timed(self.wheel.insert(deadline, entry)?))
            }
            (Held::Untimed(entry), None) => (entry.key.clone(), Held::Untimed(entry)),
        };
        self.table.insert(key, held);
        Ok(true)
    }

    /// Removes every item whose deadline is <= `now` and appends it to `out`, by deadline then
    /// by the order of `add` calls.
    pub fn expire(&mut self, now: f64, out: &mut Vec<T>) -> Result<(), TimerError> {
        let mut fired = Vec::new();
        self.wheel.expire(now, &mut fired)?;
        out.reserve(fired.len());
        for entry in fired {
            self.table.remove_key(&entry.key);
            out.push(entry.item);
        }
        Ok(())
    }

    /// The earliest pending deadline, or an earlier time at which `expire` makes progress;
    /// `None` if no timer is armed.
    pub fn next_deadline(&self) -> Option<f64> {
        self.wheel.next_deadline()
    }

    /// Removes and returns every item (timed or not) in the order they were added.
    pub fn drain(&mut self) -> Vec<T> {
        let mut entries = self.wheel.drain();
        entries.extend(self.table.drain().filter_map(|held| match held {
            Held::Untimed(entry) => Some(entry),
            Held::Timed(_) => None,
        }));
        entries.sort_unstable_by_key(|entry| entry.order);
        entries.into_iter().map(|entry| entry.item).collect()
    }

    /// Removes every item, in no particular order, with no sort (what a GC clear needs).
    pub fn clear(&mut self) {
        self.table = RefTable::default();
        self.wheel.drain();
    }

    /// The number of armed timers.
    pub const fn timers(&self) -> usize {
        self.wheel.len()
    }

    /// The number of pending refs, timed or not.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no ref is pending.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Whether `ref` is pending.
    pub fn contains(&self, r#ref: &str) -> bool {
        self.table.contains(r#ref)
    }

    /// Every pending item, in no particular order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        let untimed = self.table.values().filter_map(|held| match held {
            Held::Untimed(entry) => Some(&entry.item),
            Held::Timed(_) => None,
        });
        self.wheel.iter().map(|entry| &entry.item).chain(untimed)
    }

    /// The item of a removed entry, with its timer cancelled.
    fn release(&mut self, held: Held<T>) -> Option<T> {
        match held {
            Held::Timed(id) => self.wheel.cancel(id).map(|entry| entry.item),
            Held::Untimed(entry) => Some(entry.item),
        }
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
