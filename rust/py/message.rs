//! Building `phoenix_fast.Message` records from Rust without a Python call per message.
//!
//! `Message` is a `NamedTuple`, a tuple subclass with no instance dict. Such an object is a
//! tuple in memory, so it is allocated with the type's `tp_alloc` and filled like a tuple,
//! which is what `tuple.__new__` does underneath, minus the Python-level `__new__` call.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

static MESSAGE_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Registers the `Message` class (done once by `phoenix_fast.message` at import).
#[pyfunction]
pub fn set_message_class(py: Python<'_>, cls: Bound<'_, PyType>) -> PyResult<()> {
    let tuple_type = py.get_type::<PyTuple>();
    if !cls.is_subclass(&tuple_type)? || !has_tuple_layout(&cls, &tuple_type) {
        return Err(PyTypeError::new_err("Message must be a NamedTuple without extra fields"));
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
    let Some(cls) = MESSAGE_TYPE.get(py) else {
        return Ok(PyTuple::new(py, fields)?.into_any());
    };
    // SAFETY: the registered type has the exact layout of a tuple (checked at registration), so
    // a 5-item allocation from its tp_alloc is filled with PyTuple_SET_ITEM, which steals each
    // reference. A failed allocation returns NULL and sets the Python error fetched below.
    unsafe {
        let tp = cls.bind(py).as_type_ptr();
        let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        let obj = alloc(tp, 5);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (index, field) in (0..).zip(fields) {
            ffi::PyTuple_SET_ITEM(obj, index, field.into_ptr());
        }
        Ok(Bound::from_owned_ptr(py, obj))
    }
}
