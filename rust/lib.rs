//! Native core of phoenix_fast.
//!
//! Everything outside `py/` is pure Rust with no Python in it, so `cargo test` runs it
//! without libpython. The pyo3 bindings live in `py/` behind the `python` feature.

pub mod error;
pub mod frame;
pub mod json;
pub mod longpoll;
pub mod pending;
pub mod refs;
pub mod wheel;
pub mod ws;

#[cfg(feature = "python")]
mod py;
