//! The only crossing from the core's error enums to Python exceptions.

use pyo3::PyErr;

use crate::error::FrameError;
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
