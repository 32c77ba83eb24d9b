//! The `phoenix_fast._native` extension module: thin pyo3 wrappers over the pure core.

mod batch;
mod codec;
mod dump;
mod errors;
mod message;
mod payload;
mod pending;
mod presence;
mod push_lane;
mod strings;
mod ws;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", version())?;
    m.add_class::<codec::Codec>()?;
    m.add_class::<pending::Pending>()?;
    m.add_class::<pending::PyTimerWheel>()?;
    m.add_class::<push_lane::PushLane>()?;
    m.add_class::<ws::WsClient>()?;
    m.add_function(wrap_pyfunction!(message::set_message_class, m)?)?;
    m.add_function(wrap_pyfunction!(presence::presence_sync_state, m)?)?;
    m.add_function(wrap_pyfunction!(presence::presence_sync_diff, m)?)?;
    m.add_function(wrap_pyfunction!(presence::presence_list, m)?)?;
    Ok(())
}

/// The crate version in PEP 440 form ("0.1.0-alpha.1" becomes "0.1.0a1").
fn version() -> String {
    env!("CARGO_PKG_VERSION").replace("-alpha.", "a").replace("-beta.", "b").replace("-rc.", "rc")
}
