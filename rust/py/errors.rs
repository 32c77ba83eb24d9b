//! The only crossing from the core's error enums to Python exceptions.

use pyo3::PyErr;

use crate::error::FrameError;

pyo3::import_exception!(phoenix_fast.errors, DecodeError);
pyo3::import_exception!(phoenix_fast.errors, EncodeError);

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
