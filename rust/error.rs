//! Error enums of the pure core. They carry what went wrong and where; `py/errors.rs` is the
//! only place that turns them into Python exceptions.

use std::fmt;

/// A Phoenix frame that could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The frame was empty.
    Empty,
    /// The JSON envelope is malformed: `what` was expected or found at byte offset `pos`.
    Json { what: &'static str, pos: usize },
    /// A V2 frame is not an array of exactly five elements.
    Arity { found: usize },
    /// A field has the wrong JSON type.
    FieldType { field: &'static str, expected: &'static str },
    /// A V1 frame lacks a required key.
    MissingKey(&'static str),
    /// A string field is not valid UTF-8.
    InvalidUtf8 { field: &'static str },
    /// A binary frame is shorter than its header says.
    Truncated { kind: u8, need: usize, have: usize },
    /// A binary frame of a kind the client does not receive.
    UnknownKind(u8),
    /// A field of a binary frame is longer than the 255 bytes its length byte can hold.
    FieldTooLong { field: &'static str, len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty frame"),
            Self::Json { what, pos } => write!(f, "malformed frame: {what} at byte {pos}"),
            Self::Arity { found } => {
                write!(f, "malformed frame: expected an array of 5 elements, found {found}")
            }
            Self::FieldType { field, expected } => {
                write!(f, "malformed frame: field {field} must be {expected}")
            }
            Self::MissingKey(key) => write!(f, "malformed frame: missing key {key:?}"),
            Self::InvalidUtf8 { field } => write!(f, "malformed frame: field {field} is not valid UTF-8"),
            Self::Truncated { kind, need, have } => {
                write!(f, "truncated binary frame of kind {kind}: needs {need} bytes, has {have}")
            }
            Self::UnknownKind(kind) => write!(f, "unknown binary frame kind {kind}"),
            Self::FieldTooLong { field, len } => {
                write!(f, "binary frame field {field} is {len} bytes long; the limit is 255")
            }
        }
    }
}

impl std::error::Error for FrameError {}
