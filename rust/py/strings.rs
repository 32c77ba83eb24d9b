//! A small cache of Python strings for the fields that repeat on every frame (topic, event),
//! so a busy channel's topic is one shared object rather than a new one per message.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyString;

const CAPACITY: usize = 4096;
const MAX_LEN: usize = 64;

#[derive(Default)]
pub struct StringCache {
    map: HashMap<Box<str>, Py<PyString>>,
}

impl StringCache {
    pub fn get<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if s.len() > MAX_LEN {
            return PyString::new(py, s);
        }
        if let Some(hit) = self.map.get(s) {
            return hit.bind(py).clone();
        }
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        let value = PyString::new(py, s);
        self.map.insert(s.into(), value.clone().unbind());
        value
    }
}
