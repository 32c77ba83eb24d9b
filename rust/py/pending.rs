//! `Pending` (pushes awaiting a reply, by ref, with their timeouts in one timing wheel) and
//! `TimerWheel` (the same wheel for any other timeout).
//!
//! Nothing here reads a clock: every call that needs the time takes `now` in loop-clock
//! seconds, so tests run on fake time.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::PyTraverseError;

use super::errors::{ref_error, resolution_error, timer_error};
use crate::pending::PendingTable;
use crate::wheel::{SecondsWheel, TimerId};

fn new_wheel<T>(resolution: f64) -> PyResult<SecondsWheel<T>> {
    SecondsWheel::new(resolution).ok_or_else(|| resolution_error(resolution))
}

/// Pushes awaiting a reply, by ref, with their timeouts in a timing wheel: the pure
/// [`PendingTable`] holding Python objects.
#[pyclass(module = "phoenix_fast._native")]
pub struct Pending {
    table: PendingTable<Py<PyAny>>,
}

#[pymethods]
impl Pending {
    #[new]
    #[pyo3(signature = (resolution = 0.001))]
    fn new(resolution: f64) -> PyResult<Self> {
        Ok(Self { table: PendingTable::new(resolution).ok_or_else(|| resolution_error(resolution))? })
    }

    /// The wheel's tick in seconds.
    #[getter]
    fn resolution(&self) -> f64 {
        self.table.resolution()
    }

    /// The next ref, with the JS client's rules: "1" first; after 2**53 it wraps to "0".
    fn make_ref(&mut self) -> String {
        self.table.make_ref()
    }

    /// The ref counter's current value (the last ref made).
    #[getter(r#ref)]
    fn ref_value(&self) -> u64 {
        self.table.ref_value()
    }

    /// Sets the ref counter (for tests of the wrap rule); 0 to 2**53.
    fn set_ref(&mut self, value: u64) -> PyResult<()> {
        self.table.set_ref(value).map_err(ref_error)
    }

    /// Registers `item` awaiting a reply to `ref`, timing out at `deadline` (loop-clock seconds)
    /// or never if None. An existing entry for `ref` is replaced, timer and all.
    #[pyo3(signature = (r#ref, item, deadline))]
    pub(super) fn add(&mut self, r#ref: &str, item: Py<PyAny>, deadline: Option<f64>) -> PyResult<()> {
        let replaced = self.table.add(r#ref, item, deadline).map_err(timer_error)?;
        drop(replaced);
        Ok(())
    }

    /// `make_ref` and `add` in one call (the path of every push): returns the new ref.
    #[pyo3(signature = (item, deadline))]
    pub(super) fn add_next(&mut self, item: Py<PyAny>, deadline: Option<f64>) -> PyResult<String> {
        self.table.add_next(item, deadline).map_err(timer_error)
    }

    /// Pops the item for `ref` and cancels its timer; None if `ref` is unknown.
    pub(super) fn resolve(&mut self, r#ref: &str) -> Option<Py<PyAny>> {
        self.table.take(r#ref)
    }

    /// Same as `resolve`, for cancellation: the item if there was one.
    fn discard(&mut self, r#ref: &str) -> Option<Py<PyAny>> {
        self.table.take(r#ref)
    }

    /// Changes a pending entry's deadline (None: no timeout); False if `ref` is unknown.
    #[pyo3(signature = (r#ref, deadline))]
    fn reschedule(&mut self, r#ref: &str, deadline: Option<f64>) -> PyResult<bool> {
        self.table.reschedule(r#ref, deadline).map_err(timer_error)
    }

    /// Removes and returns every item whose deadline is <= `now`, by deadline then insertion.
    fn expire(&mut self, now: f64) -> PyResult<Vec<Py<PyAny>>> {
        let mut fired = Vec::new();
        self.table.expire(now, &mut fired).map_err(timer_error)?;
        Ok(fired)
    }

    /// The earliest pending deadline, or an earlier time at which `expire` makes progress;
    /// None if no timer is armed.
    fn next_deadline(&self) -> Option<f64> {
        self.table.next_deadline()
    }

    /// Removes and returns every item (timed or not) in the order they were added.
    fn drain(&mut self) -> Vec<Py<PyAny>> {
        self.table.drain()
    }

    /// The number of armed timers.
    fn timers(&self) -> usize {
        self.table.timers()
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
        for item in self.table.items() {
            visit.call(item)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.table.clear();
    }
}

impl Pending {
    /// The item for `ref`, left pending (the push lane looks before it settles).
    pub(super) fn peek(&self, r#ref: &str) -> Option<&Py<PyAny>> {
        self.table.get(r#ref)
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
