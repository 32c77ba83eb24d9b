//! A hierarchical timing wheel holding every push timeout.
//!
//! Two layers, both pure Rust:
//!
//! * [`TimerWheel`] works on integer ticks. Every timer has a `tick` that places it in the
//!   wheel and an exact `key` that orders and fires it (for a plain tick wheel the key is the
//!   tick). Insert and cancel are O(1); `expire` costs the occupied slots it passes plus the
//!   timers it moves, never anything per pending timer; `next_due` is O(levels) with one
//!   occupancy bitmap per level.
//! * [`SecondsWheel`] puts float seconds (the asyncio loop clock) on top: a deadline's tick is
//!   `floor(deadline / resolution)` and its key is the deadline's exact order, so a timer fires
//!   when `deadline <= now` exactly, never a tick early and never a tick late.
//!
//! Nothing here reads a clock: every call that needs the time takes it.
//!
//! # Layout
//!
//! 11 levels of 64 slots; level `L` slots are `64^L` ticks wide. 11 × 6 = 66 bits cover every
//! `u64` tick, so there is no overflow list. A timer due at `tick > elapsed` lives at the level
//! of the highest bit where `tick` and `elapsed` differ, in the slot given by `tick`'s 6-bit
//! digit at that level. Lower levels are always earlier, and within a level every occupied
//! slot is after `elapsed`'s own digit, so the earliest slot is the lowest set bit of the
//! lowest non-empty level. Reaching a slot re-places its timers one level down (each timer
//! moves at most once per level in its life). Timers whose tick has been reached wait in a
//! small ordered `ready` set (at most about one tick's worth), from which they fire exactly
//! by key, ordered by key then insertion.

use std::collections::BTreeMap;
use std::fmt;

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
/// 11 × 6 = 66 bits, enough for every `u64` tick.
const LEVELS: usize = 11;
const NIL: u32 = u32::MAX;
/// The `level` of a timer that sits in the ready set rather than in a slot.
const READY: u8 = u8::MAX;
/// `next_due` scans the earliest slot for its exact minimum up to this many timers.
const SCAN_LIMIT: usize = 64;

/// A timer's handle: slab index in the low 32 bits, the slot's generation in the high 32,
/// so a stale handle never cancels a later timer that reuses the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(u64);

impl TimerId {
    /// The handle as a plain integer (for Python).
    pub const fn to_raw(self) -> u64 {
        self.0
    }

    /// A handle from [`TimerId::to_raw`]; any integer is safe (unknown handles cancel nothing).
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    const fn new(index: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | index as u64)
    }

    const fn index(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }

    const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// Why a timer could not be armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// The deadline or the time given is NaN.
    NotANumber,
    /// More than `u32::MAX - 1` timers at once.
    Full,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotANumber => f.write_str("a time must be a number, not NaN"),
            Self::Full => f.write_str("too many timers"),
        }
    }
}

impl std::error::Error for TimerError {}

/// When the earliest timer can fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextDue {
    /// The earliest timer's exact key.
    Exact(u64),
    /// No timer is due before this tick (the earliest slot is crowded, so its timers are not
    /// scanned); expiring at this tick makes progress.
    NotBefore(u64),
}

struct Node<T> {
    generation: u32,
    /// Slot list links; `next` is also the free list's link when the node is vacant.
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
    tick: u64,
    key: u64,
    seq: u64,
    item: Option<T>,
}

/// A hierarchical timing wheel over integer ticks, generic over the payload.
pub struct TimerWheel<T> {
    nodes: Vec<Node<T>>,
    free: u32,
    /// Slot list heads of levels 0..len, grown by `place` to the highest level it uses:
    /// every socket has a wheel, and the full 11 × 64 table made each pay a 2.8 KB memset
    /// and 2.8 KB of memory (S5: 472,388 -> 462,725 instructions a socket, callgrind).
    heads: Vec<[u32; SLOTS]>,
    occupied: [u64; LEVELS],
    /// Timers whose tick has been reached, by (key, insertion).
    ready: BTreeMap<(u64, u64), u32>,
    /// Timers reached during one `advance`, as (key, seq, index); empty between calls.
    staged: Vec<(u64, u64, u32)>,
    elapsed: u64,
    seq: u64,
    len: usize,
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("len", &self.len)
            .field("elapsed", &self.elapsed)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl<T> TimerWheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            heads: Vec::new(),
            occupied: [0; LEVELS],
            ready: BTreeMap::new(),
            staged: Vec::new(),
            elapsed: 0,
            seq: 0,
            len: 0,
        }
    }

    /// The number of armed timers.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last tick the wheel was advanced to.
    pub const fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Arms a timer placed at `tick` and fired once `key <= now_key`.
    ///
    /// Callers keep keys and ticks in step: `key_a <= key_b` implies `tick_a <= tick_b`.
    /// A tick already reached fires at the next `expire` whose key allows it.
    pub fn insert(&mut self, tick: u64, key: u64, item: T) -> Result<TimerId, TimerError> {
        let index = self.alloc(tick, key, item)?;
        self.place(index);
        self.len += 1;
        Ok(TimerId::new(index, self.nodes[index as usize].generation))
    }

    /// Arms a timer on ticks alone (its key is its tick).
    pub fn insert_tick(&mut self, tick: u64, item: T) -> Result<TimerId, TimerError> {
        self.insert(tick, tick, item)
    }

    /// Disarms a timer and returns its item; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let index = self.live_index(id)?;
        self.unplace(index);
        self.len -= 1;
        self.release(index)
    }

    /// Moves a timer to a new deadline, keeping its place in the insertion order.
    /// Returns false if the timer is not armed.
    pub fn reschedule(&mut self, id: TimerId, tick: u64, key: u64) -> bool {
        let Some(index) = self.live_index(id) else {
            return false;
        };
        self.unplace(index);
        let node = &mut self.nodes[index as usize];
        node.tick = tick;
        node.key = key;
        self.place(index);
        true
    }

    /// The item of an armed timer.
    pub fn get(&self, id: TimerId) -> Option<&T> {
        let index = self.live_index(id)?;
        self.nodes[index as usize].item.as_ref()
    }

    /// Fires every timer with `key <= now_key` (its tick is then `<= now_tick`), appending
    /// the items to `out` ordered by key, then insertion.
    pub fn expire(&mut self, now_tick: u64, now_key: u64, out: &mut Vec<T>) {
        self.advance(now_tick);
        if !self.staged.is_empty() {
            // Timers reached by this advance: sorted in one go rather than one by one.
            let mut staged = std::mem::take(&mut self.staged);
            staged.sort_unstable();
            if self.ready.is_empty() {
                let due = staged.partition_point(|&(key, _, _)| key <= now_key);
                for &(_, _, index) in &staged[..due] {
                    self.fire(index, out);
                }
                self.ready.extend(staged[due..].iter().map(|&(key, seq, index)| ((key, seq), index)));
            } else {
                self.ready.extend(staged.iter().map(|&(key, seq, index)| ((key, seq), index)));
            }
            staged.clear();
            self.staged = staged;
        }
        while let Some(entry) = self.ready.first_entry() {
            if entry.key().0 > now_key {
                break;
            }
            let index = entry.remove();
            self.fire(index, out);
        }
    }

    /// Fires every timer with `tick <= now_tick` (for a wheel on ticks alone).
    pub fn expire_tick(&mut self, now_tick: u64, out: &mut Vec<T>) {
        self.expire(now_tick, u64::MAX, out);
    }

    /// When the earliest timer can fire, or `None` if no timer is armed.
    pub fn next_due(&self) -> Option<NextDue> {
        if let Some((&(key, _), _)) = self.ready.first_key_value() {
            // Ready timers have ticks <= elapsed < every slotted tick, so they come first.
            return Some(NextDue::Exact(key));
        }
        let (level, slot, start) = self.next_slot()?;
        // The earliest slot holds the earliest timer: a short list is scanned for its exact
        // key; a crowded one gives its start (waking there moves its timers one level down).
        let mut index = self.heads[level][slot];
        let mut earliest = u64::MAX;
        for _ in 0..SCAN_LIMIT {
            if index == NIL {
                return Some(NextDue::Exact(earliest));
            }
            let node = &self.nodes[index as usize];
            earliest = earliest.min(node.key);
            index = node.next;
        }
        if index == NIL {
            return Some(NextDue::Exact(earliest));
        }
        Some(NextDue::NotBefore(start))
    }

    /// Disarms every timer, returning the items in insertion order.
    pub fn drain(&mut self) -> Vec<T> {
        let mut live: Vec<(u64, T)> = Vec::with_capacity(self.len);
        for node in &mut self.nodes {
            if let Some(item) = node.item.take() {
                live.push((node.seq, item));
            }
        }
        live.sort_unstable_by_key(|&(seq, _)| seq);
        let elapsed = self.elapsed;
        let seq = self.seq;
        *self = Self::new();
        self.elapsed = elapsed;
        self.seq = seq;
        live.into_iter().map(|(_, item)| item).collect()
    }

    /// Every armed timer's item, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.nodes.iter().filter_map(|node| node.item.as_ref())
    }

    fn live_index(&self, id: TimerId) -> Option<u32> {
        let node = self.nodes.get(id.index())?;
        if node.generation != id.generation() || node.item.is_none() {
            return None;
        }
        Some(id.index() as u32)
    }

    fn alloc(&mut self, tick: u64, key: u64, item: T) -> Result<u32, TimerError> {
        let seq = self.seq;
        self.seq += 1;
        if self.free != NIL {
            let index = self.free;
            let node = &mut self.nodes[index as usize];
            self.free = node.next;
            node.prev = NIL;
            node.next = NIL;
            node.tick = tick;
            node.key = key;
            node.seq = seq;
            node.item = Some(item);
            return Ok(index);
        }
        let index = u32::try_from(self.nodes.len()).map_err(|_| TimerError::Full)?;
        if index == NIL {
            return Err(TimerError::Full);
        }
        self.nodes.push(Node {
            generation: 0,
            prev: NIL,
            next: NIL,
            level: READY,
            slot: 0,
            tick,
            key,
            seq,
            item: Some(item),
        });
        Ok(index)
    }

    fn fire(&mut self, index: u32, out: &mut Vec<T>) {
        self.len -= 1;
        if let Some(item) = self.release(index) {
            out.push(item);
        }
    }

    /// Frees a node that is already out of every list.
    fn release(&mut self, index: u32) -> Option<T> {
        let node = &mut self.nodes[index as usize];
        let item = node.item.take();
        node.generation = node.generation.wrapping_add(1);
        node.prev = NIL;
        node.next = self.free;
        self.free = index;
        item
    }

    /// Puts a node in the ready set or the slot for its tick, relative to `elapsed`.
    fn place(&mut self, index: u32) {
        let elapsed = self.elapsed;
        let node = &mut self.nodes[index as usize];
        if node.tick <= elapsed {
            node.level = READY;
            self.ready.insert((node.key, node.seq), index);
            return;
        }
        let level = level_for(elapsed, node.tick);
        let slot = ((node.tick >> (BITS as usize * level)) as usize) & (SLOTS - 1);
        if self.heads.len() <= level {
            self.heads.resize(level + 1, [NIL; SLOTS]);
        }
        let head = self.heads[level][slot];
        node.level = level as u8;
        node.slot = slot as u8;
        node.prev = NIL;
        node.next = head;
        if head != NIL {
            self.nodes[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    /// Takes a node out of the ready set or its slot list.
    fn unplace(&mut self, index: u32) {
        let node = &self.nodes[index as usize];
        if node.level == READY {
            self.ready.remove(&(node.key, node.seq));
            return;
        }
        let (level, slot, prev, next) = (node.level as usize, node.slot as usize, node.prev, node.next);
        if prev == NIL {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// The earliest occupied slot: (level, slot, first tick it covers).
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let shift = BITS as usize * level;
        let above = shift + BITS as usize;
        let base = if above >= 64 { 0 } else { self.elapsed & (u64::MAX << above) };
        let start = base | ((slot as u64) << shift);
        debug_assert!(start > self.elapsed, "slot {level}/{slot} starts at or before elapsed");
        Some((level, slot, start))
    }

    /// Moves `elapsed` to `now_tick`, passing through every occupied slot on the way: timers
    /// whose tick is reached go to the ready set, the others one level down.
    fn advance(&mut self, now_tick: u64) {
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now_tick {
                break;
            }
            self.elapsed = start;
            let mut index = std::mem::replace(&mut self.heads[level][slot], NIL);
            self.occupied[level] &= !(1 << slot);
            while index != NIL {
                let node = &mut self.nodes[index as usize];
                let next = node.next;
                if node.tick <= start {
                    // Reached: staged for `expire`, which sorts them and fires or readies each.
                    node.level = READY;
                    self.staged.push((node.key, node.seq, index));
                } else {
                    self.place(index);
                }
                index = next;
            }
        }
        // No slot starts at or before now_tick, so every placement stays valid.
        self.elapsed = self.elapsed.max(now_tick);
    }
}

/// The level of a tick after `elapsed`: the 6-bit digit of their highest differing bit.
const fn level_for(elapsed: u64, tick: u64) -> usize {
    let highest = ((elapsed ^ tick) | 1).ilog2();
    (highest / BITS) as usize
}

/// The float's position in the total order of non-NaN floats, as an unsigned integer
/// (`-0.0` and `0.0` are the same time).
pub fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The inverse of [`order_key`].
pub fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// The next float up (`f64::next_up`, which is newer than this crate's MSRV).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// A timing wheel on float seconds: ticks of `resolution` seconds, exact deadlines.
pub struct SecondsWheel<T> {
    wheel: TimerWheel<T>,
    resolution: f64,
}

impl<T> fmt::Debug for SecondsWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondsWheel")
            .field("resolution", &self.resolution)
            .field("wheel", &self.wheel)
            .finish()
    }
}

impl<T> SecondsWheel<T> {
    /// An empty wheel with ticks of `resolution` seconds; `None` unless it is finite and > 0.
    pub fn new(resolution: f64) -> Option<Self> {
        (resolution.is_finite() && resolution > 0.0).then(|| Self { wheel: TimerWheel::new(), resolution })
    }

    /// The tick length in seconds.
    pub const fn resolution(&self) -> f64 {
        self.resolution
    }

    /// The number of armed timers.
    pub const fn len(&self) -> usize {
        self.wheel.len()
    }

    /// Whether no timer is armed.
    pub const fn is_empty(&self) -> bool {
        self.wheel.is_empty()
    }

    /// The tick holding time `t`: `floor(t / resolution)`, saturating at 0 and `u64::MAX`.
    /// Monotone in `t`, which is all exactness needs.
    #[allow(clippy::cast_sign_loss, reason = "negative times saturate to tick 0 on purpose")]
    pub fn tick(&self, t: f64) -> u64 {
        (t / self.resolution).floor() as u64
    }

    /// The earliest time whose tick is at least `tick`: no deadline in a tick `>= tick` is
    /// before it, and expiring at it reaches `tick`.
    #[allow(clippy::cast_precision_loss, reason = "only a first guess, corrected below")]
    pub fn tick_start(&self, tick: u64) -> f64 {
        if tick == 0 {
            return f64::NEG_INFINITY;
        }
        let mut t = tick as f64 * self.resolution;
        while self.tick(t) < tick {
            t = next_up(t);
        }
        while self.tick(next_down(t)) >= tick {
            t = next_down(t);
        }
        t
    }

    /// Arms a timer that fires once `now >= deadline`.
    pub fn insert(&mut self, deadline: f64, item: T) -> Result<TimerId, TimerError> {
        if deadline.is_nan() {
            return Err(TimerError::NotANumber);
        }
        self.wheel.insert(self.tick(deadline), order_key(deadline), item)
    }

    /// Disarms a timer and returns its item; `None` if it is not armed.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.wheel.cancel(id)
    }

    /// Moves an armed timer to a new deadline; `Ok(false)` if it is not armed.
    pub fn reschedule(&mut self, id: TimerId, deadline: f64) -> Result<bool, TimerError> {
        if deadline.is_nan() {
            return Err(TimerError::NotANumber);
        }
        Ok(self.wheel.reschedule(id, self.tick(deadline), order_key(deadline)))
    }

    /// The item of an armed timer.
    pub fn get(&self, id: TimerId) -> Option<&T> {
        self.wheel.get(id)
    }

    /// Fires every timer with `deadline <= now`, appending the items to `out` ordered by
    /// deadline, then insertion.
    pub fn expire(&mut self, now: f64, out: &mut Vec<T>) -> Result<(), TimerError> {
        if now.is_nan() {
            return Err(TimerError::NotANumber);
        }
        self.wheel.expire(self.tick(now), order_key(now), out);
        Ok(())
    }

    /// The earliest deadline, or a time before it at which expiring makes progress (only
    /// while the earliest timer is still in a coarse slot); `None` if no timer is armed.
    pub fn next_deadline(&self) -> Option<f64> {
        Some(match self.wheel.next_due()? {
            NextDue::Exact(key) => from_order_key(key),
            NextDue::NotBefore(tick) => self.tick_start(tick),
        })
    }

    /// Disarms every timer, returning the items in insertion order.
    pub fn drain(&mut self) -> Vec<T> {
        self.wheel.drain()
    }

    /// Every armed timer's item, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.wheel.iter()
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
