//! Building `phoenix_fast.Message` records from Rust without a Python call per message.
//!
//! `Message` is a `NamedTuple`, a tuple subclass with no instance dict. It is built the way
//! `tuple.__new__(Message, fields)` builds it: through `PyTuple_Type.tp_new`, which for a
//! subclass allocates with the type's `tp_alloc`, copies the items and sets up whatever else
//! the running CPython keeps in a tuple. Filling a `tp_alloc` allocation ourselves skipped
//! that last part: CPython 3.14 caches a tuple's hash in the object, and `tuple.__new__`
//! resets the cache, while a zeroed allocation reads as "hash already computed: 0", so
//! `hash(message)` would differ from `hash(tuple(message))`. Going through `tp_new` is right
//! on every version by construction, and only calls C (the Python-level `Message.__new__`
//! that `NamedTuple` generates is not involved).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

use super::errors::message_class_error;

static MESSAGE_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Registers the `Message` class (done once by `phoenix_fast.message` at import).
#[pyfunction]
pub fn set_message_class(py: Python<'_>, cls: Bound<'_, PyType>) -> PyResult<()> {
    let tuple_type = py.get_type::<PyTuple>();
    if !cls.is_subclass(&tuple_type)? || !has_tuple_layout(&cls, &tuple_type) {
        return Err(message_class_error());
    }
    let _ = MESSAGE_TYPE.set(py, cls.unbind());
    Ok(())
}

fn has_tuple_layout(cls: &Bound<'_, PyType>, tuple_type: &Bound<'_, PyType>) -> bool {
    // SAFETY: both pointers are live type objects; only size fields are read.
    unsafe {
        let a = cls.as_type_ptr();
        let b = tuple_type.as_type_ptr();
        (*a).tp_basicsize == (*b).tp_basicsize
            && (*a).tp_itemsize == (*b).tp_itemsize
            && (*a).tp_dictoffset == 0
    }
}

/// A `Message(join_ref, ref, topic, event, payload)`; a plain tuple before registration.
pub fn new_message<'py>(py: Python<'py>, fields: [Bound<'py, PyAny>; 5]) -> PyResult<Bound<'py, PyAny>> {
    let items = PyTuple::new(py, fields)?;
    let Some(cls) = MESSAGE_TYPE.get(py) else {
        return Ok(items.into_any());
    };
    // `tuple.__new__(cls, items)`: tp_new takes the constructor's arguments as a tuple.
    let args = PyTuple::new(py, [items])?;
    // SAFETY: `tuple_new` is PyTuple_Type's tp_new and is always set; `cls` is a live subtype
    // of tuple (checked at registration) and `args` a live tuple. It returns a new reference,
    // or NULL with a Python error set, fetched below.
    unsafe {
        let new = (*std::ptr::addr_of_mut!(ffi::PyTuple_Type)).tp_new.expect("tuple has tp_new");
        let obj = new(cls.bind(py).as_type_ptr(), args.as_ptr(), std::ptr::null_mut());
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, obj))
    }
}
