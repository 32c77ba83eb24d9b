//! `PushLane`: the two halves of every `await channel.push(...)`, one native call each.
//!
//! - `send_new` builds a new push, files it in the pending table with its deadline and hands
//!   its fields to the transport (`Sender.send_new`, for a joined channel on an open
//!   connection).
//! - `settle` takes the push a reply answers out of the pending table and, in the usual case
//!   (an `ok` reply to a push nobody registered `receive` callbacks on), settles it in place;
//!   any other case goes to `Push._resolve` in Python.
//!
//! `Push` stays a Python class: its rarer paths (hooks, timeouts, resends, joins) read best
//! there. But it has `__slots__`, so each of its fields lives at a fixed offset in every
//! instance, recorded by the class's member descriptors. The lane finds those offsets once,
//! checks that they are plain object slots and that they are all of `Push`'s slots, and then
//! reads and writes them directly, as a C extension does with the fields of its own type: a
//! field costs a pointer move here, against a bytecode and its dispatch in Python.
//!
//! Callgrind on the S4 client (a push round trip against the reference server): 32,791 ->
//! 29,596 instructions, 445 -> 296 bytecodes; in memory (`benches/await_floor.py`) the
//! client's side went from 2.70 to 2.50 µs a round trip.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString, PyTuple, PyType};

use super::errors::push_layout_error;
use super::pending::Pending;

/// Every slot of `Push` (its own and `Outcome`'s), in the order of the constants below.
const SLOTS: [&str; 16] = [
    "channel",
    "event",
    "_payload",
    "timeout",
    "ref",
    "sent",
    "_received",
    "_hooks",
    "_on_outcome",
    "_done",
    "_value",
    "_error",
    "_waiters",
    "_error_cls",
    "_deadline",
    "_conn",
];
const CHANNEL: usize = 0;
const EVENT: usize = 1;
const PAYLOAD: usize = 2;
const TIMEOUT: usize = 3;
const REF: usize = 4;
const SENT: usize = 5;
const RECEIVED: usize = 6;
const HOOKS: usize = 7;
const ON_OUTCOME: usize = 8;
const DONE: usize = 9;
const VALUE: usize = 10;
const ERROR: usize = 11;
const WAITERS: usize = 12;
const ERROR_CLS: usize = 13;
const DEADLINE: usize = 14;
const CONN: usize = 15;

/// The native half of a push's everyday life; one for the `Push` class (`push.LANE`).
#[pyclass(module = "phoenix_fast._native", frozen)]
pub struct PushLane {
    cls: Py<PyType>,
    offsets: [ffi::Py_ssize_t; SLOTS.len()],
    /// The error class of a plain push (`PushError`; joins have their own).
    error_cls: Py<PyAny>,
}

#[pymethods]
impl PushLane {
    /// Checks `cls`'s slots against the lane's and records where they are.
    ///
    /// Raises:
    ///     TypeError: `cls` has other slots than the lane knows, or one is not a plain
    ///         object slot.
    #[new]
    fn new(cls: Bound<'_, PyType>, error_cls: Bound<'_, PyAny>) -> PyResult<Self> {
        check_slot_names(&cls)?;
        let mut offsets = [0; SLOTS.len()];
        for (offset, name) in offsets.iter_mut().zip(SLOTS) {
            *offset = slot_offset(&cls, name)?;
        }
        Ok(Self { cls: cls.unbind(), offsets, error_cls: error_cls.unbind() })
    }

    /// A new push of `channel`, filed in `pending` to time out at `deadline` and sent with
    /// `send_fields(join_ref, ref, topic, event, payload)`: what `Push(...)` followed by
    /// `Sender.send_push` leaves, for a push sent at once. A callable payload is called.
    ///
    /// Raises:
    ///     Whatever `send_fields` or the payload raises (`EncodeError`, say); the push is
    ///     then not pending.
    #[pyo3(signature = (pending, channel, event, payload, timeout, deadline, conn, send_fields, join_ref, topic))]
    #[allow(clippy::too_many_arguments)]
    fn send_new<'py>(
        &self,
        py: Python<'py>,
        pending: &Bound<'py, Pending>,
        channel: Bound<'py, PyAny>,
        event: Bound<'py, PyAny>,
        payload: Bound<'py, PyAny>,
        timeout: Bound<'py, PyAny>,
        deadline: f64,
        conn: Bound<'py, PyAny>,
        send_fields: &Bound<'py, PyAny>,
        join_ref: Bound<'py, PyAny>,
        topic: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let push = self.alloc(py)?;
        let none = py.None().into_bound(py);
        let fields = [
            (CHANNEL, channel),
            (EVENT, event.clone()),
            (PAYLOAD, payload.clone()),
            (TIMEOUT, timeout),
            (REF, none.clone()),
            (SENT, PyBool::new(py, true).to_owned().into_any()),
            (RECEIVED, none.clone()),
            (HOOKS, PyTuple::empty(py).into_any()),
            (ON_OUTCOME, none.clone()),
            (DONE, PyBool::new(py, false).to_owned().into_any()),
            (VALUE, none.clone()),
            (ERROR, none.clone()),
            (WAITERS, none.clone()),
            (ERROR_CLS, self.error_cls.bind(py).clone()),
            (DEADLINE, PyFloat::new(py, deadline).into_any()),
            (CONN, none),
        ];
        for (slot, value) in fields {
            self.put(&push, slot, value);
        }
        let r#ref = pending.borrow_mut().add_next(push.clone().unbind(), Some(deadline))?;
        let r#ref = PyString::new(py, &r#ref);
        self.put(&push, REF, r#ref.clone().into_any());
        let sent = if payload.is_callable() { payload.call0() } else { Ok(payload) }
            .and_then(|body| send_fields.call1((join_ref, &r#ref, topic, event, body)));
        if let Err(err) = sent {
            drop(pending.borrow_mut().resolve(r#ref.to_str()?));
            return Err(err);
        }
        self.put(&push, CONN, conn);
        Ok(push)
    }

    /// Takes the push that a reply to `ref` on `channel` answers out of `pending` and
    /// resolves it with the reply's status and response: `(push, status)`, or None when no
    /// push waits for `ref` or it is another channel's (it stays pending then).
    ///
    /// An `ok` reply to a push of this lane's class that has no `receive` callbacks, no
    /// owner reaction, no earlier outcome and at most one awaiter is settled here (what
    /// `Push._resolve` does in that case); anything else calls `Push._resolve`.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        pending: &Bound<'py, Pending>,
        r#ref: &str,
        payload: &Bound<'py, PyAny>,
        channel: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let Some(push) = pending.borrow_mut().resolve(r#ref) else {
            return Ok(None);
        };
        let push = push.into_bound(py);
        let mine = push.get_type().is(self.cls.bind(py));
        let owner = if mine { self.get(&push, CHANNEL) } else { Some(push.getattr(intern!(py, "channel"))?) };
        if !owner.is_some_and(|owner| owner.is(channel)) {
            let deadline: Option<f64> = push.getattr(intern!(py, "_deadline"))?.extract()?;
            pending.borrow_mut().add(r#ref, push.unbind(), deadline)?;
            return Ok(None);
        }
        let status = field(payload, intern!(py, "status"))?;
        let response = field(payload, intern!(py, "response"))?;
        if mine && is_ok(&status) && self.settle_ok(&push, &status, &response)? {
            return Ok(Some((push, status)));
        }
        let status = status.str()?.into_any();
        push.call_method1(intern!(py, "_resolve"), (&status, response))?;
        Ok(Some((push, status)))
    }
}

impl PushLane {
    /// `Push._resolve` for an `ok` reply, when nothing but an awaiter is waiting for it:
    /// false (and nothing done) otherwise.
    fn settle_ok(
        &self,
        push: &Bound<'_, PyAny>,
        status: &Bound<'_, PyAny>,
        response: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = push.py();
        // nobody but (at most) one awaiter waits for this push's outcome, and it is the first
        let no_hooks = self.get(push, HOOKS).is_some_and(|hooks| is_empty_tuple(&hooks));
        let no_owner = self.get(push, ON_OUTCOME).is_some_and(|owner| owner.is_none());
        let first = self.get(push, DONE).is_some_and(|done| !done.is_truthy().unwrap_or(true));
        let plain = no_hooks && no_owner && first;
        let Some(waiter) = self.get(push, WAITERS) else { return Ok(false) };
        if !plain || waiter.is_instance_of::<PyList>() {
            return Ok(false);
        }
        let none = py.None().into_bound(py);
        self.put(push, RECEIVED, PyTuple::new(py, [status, response])?.into_any());
        self.put(push, CONN, none.clone());
        self.put(push, DONE, PyBool::new(py, true).to_owned().into_any());
        self.put(push, VALUE, response.clone());
        if !waiter.is_none() {
            self.put(push, WAITERS, none);
            // A future whose awaiting task was cancelled refuses the result, and is done:
            // asking first would cost a call on every reply for a case that is rare.
            if let Err(err) = waiter.call_method1(intern!(py, "set_result"), (response,)) {
                if !waiter.call_method0(intern!(py, "done"))?.is_truthy()? {
                    return Err(err);
                }
            }
        }
        Ok(true)
    }

    /// A new, empty instance of the class (every slot unset), as `object.__new__` makes it.
    fn alloc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cls = self.cls.bind(py).as_type_ptr();
        // SAFETY: `cls` is a live type object (we hold it); its `tp_alloc` returns a new
        // reference with every slot NULL, or NULL with a Python error set.
        unsafe {
            let alloc = (*cls).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
            Bound::from_owned_ptr_or_err(py, alloc(cls, 0))
        }
    }

    /// Where `slot` lives in `push`, which must be an instance of the lane's class.
    fn place(&self, push: &Bound<'_, PyAny>, slot: usize) -> *mut *mut ffi::PyObject {
        debug_assert!(push.get_type().is(self.cls.bind(push.py())));
        // SAFETY: the offset is one of the class's object slots (checked in `new`), inside
        // every instance of it.
        unsafe { push.as_ptr().cast::<u8>().offset(self.offsets[slot]).cast() }
    }

    /// The object in `slot` (None if the slot is unset).
    fn get<'py>(&self, push: &Bound<'py, PyAny>, slot: usize) -> Option<Bound<'py, PyAny>> {
        // SAFETY: `place` is an object slot of a live instance; a non-NULL value there is a
        // live object the instance holds a reference to, which we borrow and then own.
        unsafe { Bound::from_borrowed_ptr_or_opt(push.py(), *self.place(push, slot)) }
    }

    /// Stores `value` in `slot`, releasing what the slot held.
    fn put(&self, push: &Bound<'_, PyAny>, slot: usize, value: Bound<'_, PyAny>) {
        // SAFETY: as in `get`; the slot takes over `value`'s reference, and the old value's
        // reference is released after the store, as `PyMember_SetOne` does.
        unsafe {
            let old = std::ptr::replace(self.place(push, slot), value.into_ptr());
            ffi::Py_XDECREF(old);
        }
    }
}

/// Whether `value` is a tuple with nothing in it (a push with no `receive` callbacks).
fn is_empty_tuple(value: &Bound<'_, PyAny>) -> bool {
    value.cast::<PyTuple>().is_ok_and(PyTupleMethods::is_empty)
}

/// Whether a reply's status is the string "ok".
fn is_ok(status: &Bound<'_, PyAny>) -> bool {
    status.cast::<PyString>().is_ok_and(|status| status.to_str().is_ok_and(|status| status == "ok"))
}

/// `payload.get(key)` (None if missing), without a method call for a plain dict.
fn field<'py>(payload: &Bound<'py, PyAny>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(dict) = payload.cast_exact::<PyDict>() {
        return Ok(dict.get_item(key)?.unwrap_or_else(|| payload.py().None().into_bound(payload.py())));
    }
    payload.call_method1(intern!(payload.py(), "get"), (key,))
}

/// Checks that `cls`'s slots, over its whole MRO, are exactly the lane's.
fn check_slot_names(cls: &Bound<'_, PyType>) -> PyResult<()> {
    let py = cls.py();
    let mut names: Vec<String> = Vec::new();
    for base in cls.getattr(intern!(py, "__mro__"))?.try_iter()? {
        let Some(slots) = base?.getattr(intern!(py, "__dict__"))?.get_item("__slots__").ok() else {
            continue;
        };
        if let Ok(name) = slots.cast::<PyString>() {
            names.push(name.to_str()?.to_owned());
            continue;
        }
        for name in slots.try_iter()? {
            names.push(name?.extract()?);
        }
    }
    names.retain(|name| name != "__weakref__" && name != "__dict__");
    names.sort();
    let mut expected: Vec<String> = SLOTS.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();
    if names != expected {
        return Err(push_layout_error(&format!("its slots are {names:?}, the lane's {expected:?}")));
    }
    Ok(())
}

/// The offset of `cls`'s object slot `name`, from its member descriptor.
fn slot_offset(cls: &Bound<'_, PyType>, name: &str) -> PyResult<ffi::Py_ssize_t> {
    let descriptor = cls.getattr(name)?;
    let ptr = descriptor.as_ptr();
    // SAFETY: `ptr` is a live object; its type is compared with the member descriptor type
    // before it is read as one, and a member descriptor's `d_member` is a live `PyMemberDef`
    // for as long as the descriptor is (we only copy two fields out).
    unsafe {
        if ffi::Py_TYPE(ptr) != std::ptr::addr_of_mut!(ffi::PyMemberDescr_Type) {
            return Err(push_layout_error(&format!("{name} is not a slot")));
        }
        let member = (*ptr.cast::<ffi::PyMemberDescrObject>()).d_member.cast::<ffi::PyMemberDef>();
        if (*member).type_code != ffi::Py_T_OBJECT_EX || (*member).flags & ffi::Py_READONLY != 0 {
            return Err(push_layout_error(&format!("{name} is not a writable object slot")));
        }
        Ok((*member).offset)
    }
}
