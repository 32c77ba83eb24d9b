//! The only crossing from the core's errors to Python exceptions: every `PyErr` the extension
//! raises is made here, so the exception type of each failure is decided in one file (the
//! architecture test in `tests/test_architecture.py` keeps it so).

use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::error::FrameError;
use crate::refs::RefError;
use crate::wheel::TimerError;
use crate::ws::WsError;

pyo3::import_exception!(phoenix_fast.errors, DecodeError);
pyo3::import_exception!(phoenix_fast.errors, EncodeError);
pyo3::import_exception!(phoenix_fast.errors, ConnectError);
pyo3::import_exception!(phoenix_fast.errors, WebSocketProtocolError);

/// A WebSocket framing or handshake violation, as `WebSocketProtocolError`.
#[cold]
#[inline(never)]
pub fn ws_error(err: &WsError) -> PyErr {
    WebSocketProtocolError::new_err(err.to_string())
}

/// The server answered the upgrade with another status than 101 (403 for a refused connect).
#[cold]
#[inline(never)]
pub fn connect_error(status: u16) -> PyErr {
    ConnectError::new_err((format!("the server refused the WebSocket upgrade with HTTP {status}"), status))
}

/// A decode failure, as `phoenix_fast.errors.DecodeError`.
#[cold]
#[inline(never)]
pub fn decode_error(err: &FrameError) -> PyErr {
    DecodeError::new_err(err.to_string())
}

/// A decode failure with a prefix saying which part failed (the payload decoder, say).
#[cold]
#[inline(never)]
pub fn decode_error_msg(msg: String) -> PyErr {
    DecodeError::new_err(msg)
}

/// An encode failure, as `phoenix_fast.errors.EncodeError`.
#[cold]
#[inline(never)]
pub fn encode_error(err: &FrameError) -> PyErr {
    EncodeError::new_err(err.to_string())
}

#[cold]
#[inline(never)]
pub fn encode_error_msg(msg: String) -> PyErr {
    EncodeError::new_err(msg)
}

/// A timer failure: a NaN time is a `ValueError`; a wheel that is full, a `MemoryError`.
#[cold]
#[inline(never)]
pub fn timer_error(err: TimerError) -> PyErr {
    match err {
        TimerError::NotANumber => PyValueError::new_err(err.to_string()),
        TimerError::Full => PyMemoryError::new_err(err.to_string()),
    }
}

/// A ref counter value the JS client could not hold, as `ValueError`.
#[cold]
#[inline(never)]
pub fn ref_error(err: RefError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A timing wheel's resolution that is not a positive number of seconds, as `ValueError`.
#[cold]
#[inline(never)]
pub fn resolution_error(resolution: f64) -> PyErr {
    PyValueError::new_err(format!("resolution must be a positive number of seconds, not {resolution}"))
}

/// A serializer version the codec does not speak, as `ValueError`.
#[cold]
#[inline(never)]
pub fn serializer_version_error(vsn_major: u8) -> PyErr {
    PyValueError::new_err(format!("unsupported serializer version {vsn_major}: expected 1 or 2"))
}

/// A `Message` class the extension cannot build records of, as `TypeError`.
#[cold]
#[inline(never)]
pub fn message_class_error() -> PyErr {
    PyTypeError::new_err("Message must be a NamedTuple without extra fields")
}

/// A presence that is not a dict with a `metas` list, as `TypeError` naming its key.
#[cold]
#[inline(never)]
pub fn presence_error(key_repr: &str, kind: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "presence {key_repr} must be a dict with a 'metas' list, not {kind} without one"
    ))
}

/// A diff's `joins` or `leaves` that is not a dict, as `TypeError`.
#[cold]
#[inline(never)]
pub fn diff_part_error(name: &str, kind: &str) -> PyErr {
    PyTypeError::new_err(format!("diff[{name}] must be a dict, not {kind}"))
}

/// A dict changed size while the extension iterated over it (as Python's own iterator says).
#[cold]
#[inline(never)]
pub fn dict_changed_error() -> PyErr {
    PyRuntimeError::new_err("dictionary changed size during iteration")
}

/// The OS gave no randomness for the WebSocket masking keys, as `OSError`.
#[cold]
#[inline(never)]
pub fn randomness_error(err: &dyn std::fmt::Display) -> PyErr {
    PyOSError::new_err(format!("the OS gave no randomness for WebSocket masking keys: {err}"))
}

/// A read decoded into more messages than a Python list can hold, as `MemoryError`.
#[cold]
#[inline(never)]
pub fn too_many_messages_error(count: usize) -> PyErr {
    PyMemoryError::new_err(format!("a read decoded into {count} messages: more than a list holds"))
}

/// A `Push` class whose slots the push lane does not know (a slot added, removed or
/// retyped without updating `rust/py/push_lane.rs`), as `TypeError`.
#[cold]
#[inline(never)]
pub fn push_layout_error(detail: &str) -> PyErr {
    PyTypeError::new_err(format!("the push lane cannot use this Push class: {detail}"))
}
