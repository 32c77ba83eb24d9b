//! `PushLane`: the two halves of every `await channel.push(...)`, one native call each.
//!
//! - `send_new` builds a new push, files it in the pending table with its deadline and hands
//!   its fields to the transport (`Sender.send_new`, for a joined channel on an open
//!   connection).
//! - `settle` takes the push a reply answers out of the pending table and, in the usual case
//!   (an `ok` reply to a push nobody registered `receive` callbacks on), settles it in place;
//!   any other case goes to `Push._resolve` in Python.
//! - `settle_replies` does what the receive loop and `settle` do for the run of such replies
//!   at the head of a network read, in one call for the run (`Router.route`).
//!
//! `Push` stays a Python class: its rarer paths (hooks, timeouts, resends, joins) read best
//! there. But it has `__slots__`, so each of its fields lives at a fixed offset in every
//! instance, recorded by the class's member descriptors. The lane finds those offsets once,
//! checks that they are plain object slots and that they are all of `Push`'s slots, and then
//! reads and writes them directly, as a C extension does with the fields of its own type: a
//! field costs a pointer move here, against a bytecode and its dispatch in Python.
//!
//! Callgrind on the S4 client (a push round trip against the reference server): 32,791 ->
//! 29,596 instructions, 445 -> 296 bytecodes with `send_new` and `settle`; in memory
//! (`benches/await_floor.py`) the client's side went from 2.70 to 2.50 µs a round trip.
//! `settle_replies` then took the receive loop's share: 29,018 -> 27,311 instructions, 296 ->
//! 190 bytecodes; keeping its verdict on a channel for the rest of a read, 27,200 -> 25,665.
//!
//! What does not pay here is moving attribute reads alone: a native `Push.__await__` (three
//! attribute reads and two method calls) took 25 bytecodes off a round trip and added 500
//! instructions, since CPython 3.11's specialised bytecodes read attributes and call methods
//! for less than the generic C API does.

use pyo3::exceptions::PyException;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString, PyTuple, PyType};

use super::errors::push_layout_error;
use super::pending::Pending;

/// The event of a reply.
const EVENT_REPLY: &str = "phx_reply";

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
        let Some((push, mine)) = self.channel_push(pending, r#ref, channel)? else { return Ok(None) };
        drop(pending.borrow_mut().resolve(r#ref));
        let status = field(payload, intern!(py, "status"))?;
        let response = field(payload, intern!(py, "response"))?;
        if mine && is_ok(&status) && self.settle_ok(&push, &status, &response)? {
            return Ok(Some((push, status)));
        }
        let status = status.str()?.into_any();
        push.call_method1(intern!(py, "_resolve"), (&status, response))?;
        Ok(Some((push, status)))
    }

    /// Settles the replies at the head of one read's `messages` that need nothing but their
    /// push settled in place, in order, and returns `(index, error)`: the index of the first
    /// message left to the caller (`len(messages)` when none is), and the exception that
    /// settling the message before it raised, or None.
    ///
    /// Such a reply is an exact 5-tuple with a `phx_reply` event, a `str` ref other than
    /// `heartbeat_ref`, a `dict` payload with an `ok` status, on the one channel of its
    /// topic, for the channel's current join, with no `on_message` hook, no `phx_reply`
    /// binding and no push observer, answering a push of this lane's class that `settle`
    /// settles in place. A reply to no pending push, or to another channel's, is passed over
    /// (as `settle` passes it over); any other message ends the run, untouched.
    ///
    /// No Python code of the client's runs in between (a future's `set_result` schedules its
    /// callbacks), so the caller checks once for the whole read what holds for every
    /// message: the connection is open and current, no ping waits for a reply, and nobody
    /// traces or listens to every message.
    #[pyo3(signature = (messages, topics, pending, heartbeat_ref))]
    fn settle_replies<'py>(
        &self,
        messages: &Bound<'py, PyAny>,
        topics: &Bound<'py, PyDict>,
        pending: &Bound<'py, Pending>,
        heartbeat_ref: &Bound<'py, PyAny>,
    ) -> PyResult<(usize, Option<PyErr>)> {
        let Ok(messages) = messages.cast_exact::<PyList>() else { return Ok((0, None)) };
        let mut index = 0;
        let mut accepted = None;
        while index < messages.len() {
            let message = messages.get_item(index)?;
            match self.classify(&message, topics, pending, heartbeat_ref, &mut accepted) {
                Ok(Reply::PassOver) => {}
                Ok(Reply::Settle { r#ref, push, status, response, waiter }) => {
                    drop(pending.borrow_mut().resolve(r#ref.to_str()?));
                    if let Err(err) = self.settle_plain(&push, &status, &response, &waiter) {
                        // the receive loop logs an Exception and goes on; anything else
                        // (KeyboardInterrupt, SystemExit) goes up, as it would from the loop
                        if !err.is_instance_of::<PyException>(messages.py()) {
                            return Err(err);
                        }
                        return Ok((index + 1, Some(err)));
                    }
                }
                Ok(Reply::Leave) | Err(_) => break,
            }
            index += 1;
        }
        Ok((index, None))
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
        let Some(waiter) = self.lone_waiter(push) else { return Ok(false) };
        self.settle_plain(push, status, response, &waiter)?;
        Ok(true)
    }

    /// The awaiter (or None) of a push that nobody but at most one awaiter waits for, and
    /// that has no outcome yet; nothing if anything else waits for it.
    fn lone_waiter<'py>(&self, push: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
        let no_hooks = self.get(push, HOOKS).is_some_and(|hooks| is_empty_tuple(&hooks));
        let no_owner = self.get(push, ON_OUTCOME).is_some_and(|owner| owner.is_none());
        let first = self.get(push, DONE).is_some_and(|done| !done.is_truthy().unwrap_or(true));
        let waiter = self.get(push, WAITERS)?;
        (no_hooks && no_owner && first && !waiter.is_instance_of::<PyList>()).then_some(waiter)
    }

    /// What `Push._resolve` does with an `ok` reply to a push whose one awaiter (if any) is
    /// `waiter`, from `lone_waiter`.
    fn settle_plain(
        &self,
        push: &Bound<'_, PyAny>,
        status: &Bound<'_, PyAny>,
        response: &Bound<'_, PyAny>,
        waiter: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = push.py();
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
        Ok(())
    }

    /// What `settle_replies` does with `message`. Only reads: an error here (a string that
    /// is not valid UTF-8, a channel without the receive loop's attributes) leaves the
    /// message to the caller, whose loop deals with it as with any other.
    fn classify<'py>(
        &self,
        message: &Bound<'py, PyAny>,
        topics: &Bound<'py, PyDict>,
        pending: &Bound<'py, Pending>,
        heartbeat_ref: &Bound<'py, PyAny>,
        accepted: &mut Option<Accepted<'py>>,
    ) -> PyResult<Reply<'py>> {
        let py = message.py();
        let Ok(message) = message.cast_exact::<PyTuple>() else { return Ok(Reply::Leave) };
        if message.len() != 5 {
            return Ok(Reply::Leave);
        }
        let [join_ref, r#ref, topic, event, payload] =
            [0, 1, 2, 3, 4].map(|index| message.get_item(index).expect("a 5-tuple has 5 items"));
        let (Ok(r#ref), Ok(event)) = (r#ref.cast_exact::<PyString>(), event.cast_exact::<PyString>()) else {
            return Ok(Reply::Leave);
        };
        if event.to_str()? != EVENT_REPLY || r#ref.as_any().eq(heartbeat_ref)? {
            return Ok(Reply::Leave);
        }
        if !payload.is_exact_instance_of::<PyDict>() || !topic.is_exact_instance_of::<PyString>() {
            return Ok(Reply::Leave);
        }
        let known = accepted.as_ref().filter(|known| known.holds_for(&topic, &join_ref));
        let channel = if let Some(known) = known {
            known.channel.clone()
        } else {
            let Some(channel) = lone_channel(topics, &topic)? else { return Ok(Reply::Leave) };
            if !self.plain_reply_to(&channel, &join_ref, event)? {
                return Ok(Reply::Leave);
            }
            *accepted = Some(Accepted { topic, join_ref, channel: channel.clone() });
            channel
        };
        // no push waits for it, or another channel's does: `settle` would leave all as it is
        let Some((push, mine)) = self.channel_push(pending, r#ref.to_str()?, &channel)? else {
            return Ok(Reply::PassOver);
        };
        if !mine {
            return Ok(Reply::Leave);
        }
        let status = field(&payload, intern!(py, "status"))?;
        if !is_ok(&status) {
            return Ok(Reply::Leave);
        }
        let Some(waiter) = self.lone_waiter(&push) else { return Ok(Reply::Leave) };
        let response = field(&payload, intern!(py, "response"))?;
        Ok(Reply::Settle { r#ref: r#ref.clone(), push, status, response, waiter })
    }

    /// The push pending for `ref` if it is `channel`'s, and whether it is of this lane's
    /// class; None when no push waits for `ref` or it is another channel's (which is left as
    /// it was, timer and place in the table).
    fn channel_push<'py>(
        &self,
        pending: &Bound<'py, Pending>,
        r#ref: &str,
        channel: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, bool)>> {
        let py = channel.py();
        let Some(push) = pending.borrow().peek(r#ref).map(|push| push.bind(py).clone()) else {
            return Ok(None);
        };
        let mine = push.get_type().is(self.cls.bind(py));
        let owner = if mine { self.get(&push, CHANNEL) } else { Some(push.getattr(intern!(py, "channel"))?) };
        Ok(owner.is_some_and(|owner| owner.is(channel)).then_some((push, mine)))
    }

    /// Whether a reply on `channel` with `join_ref` reaches nothing but the channel's pushes:
    /// the channel's current join sent it, no `on_message` hook and no `phx_reply` binding
    /// sees it, and no push observer is told of its outcome.
    fn plain_reply_to(
        &self,
        channel: &Bound<'_, PyAny>,
        join_ref: &Bound<'_, PyAny>,
        event: &Bound<'_, PyString>,
    ) -> PyResult<bool> {
        let py = channel.py();
        // an empty join_ref counts as none, as in JS
        if join_ref.is_truthy()? {
            let join_push = channel.getattr(intern!(py, "_join_push"))?;
            let current = if join_push.get_type().is(self.cls.bind(py)) {
                self.get(&join_push, REF).unwrap_or_else(|| py.None().into_bound(py))
            } else {
                join_push.getattr(intern!(py, "ref"))?
            };
            if !join_ref.eq(current)? {
                return Ok(false);
            }
        }
        if channel.getattr(intern!(py, "_hooked"))?.is_truthy()? {
            return Ok(false);
        }
        let bindings = channel.getattr(intern!(py, "_bindings"))?;
        let Ok(bindings) = bindings.cast_exact::<PyDict>() else { return Ok(false) };
        if bindings.get_item(event)?.map(|found| found.is_truthy()).transpose()? == Some(true) {
            return Ok(false);
        }
        let socket = channel.getattr(intern!(py, "socket"))?;
        Ok(socket.getattr(intern!(py, "_push_observer"))?.is_none())
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

/// A channel that `plain_reply_to` accepted earlier in the same run, with the topic and
/// join_ref of the message it was accepted for. Nothing of the client's runs during a run, so
/// the verdict holds for every later reply with the same topic and join_ref objects (the
/// decoder hands out the same ones): one dictionary lookup and five attribute reads a reply
/// become two identity tests.
struct Accepted<'py> {
    topic: Bound<'py, PyAny>,
    join_ref: Bound<'py, PyAny>,
    channel: Bound<'py, PyAny>,
}

impl Accepted<'_> {
    fn holds_for(&self, topic: &Bound<'_, PyAny>, join_ref: &Bound<'_, PyAny>) -> bool {
        self.topic.is(topic) && self.join_ref.is(join_ref)
    }
}

/// What `settle_replies` makes of one message of a read.
enum Reply<'py> {
    /// An `ok` reply to a push that nothing but (at most) one awaiter waits for.
    Settle {
        r#ref: Bound<'py, PyString>,
        push: Bound<'py, PyAny>,
        status: Bound<'py, PyAny>,
        response: Bound<'py, PyAny>,
        waiter: Bound<'py, PyAny>,
    },
    /// A plain reply to no push of its channel's: `settle` would leave everything as it is.
    PassOver,
    /// Anything else: the caller's loop takes it, and the rest of the read.
    Leave,
}

/// The one channel on `topic`, if it has exactly one.
fn lone_channel<'py>(
    topics: &Bound<'py, PyDict>,
    topic: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(channels) = topics.get_item(topic)? else { return Ok(None) };
    let Ok(channels) = channels.cast_exact::<PyList>() else { return Ok(None) };
    if channels.len() != 1 {
        return Ok(None);
    }
    Ok(Some(channels.get_item(0)?))
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
