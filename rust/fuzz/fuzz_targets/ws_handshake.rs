//! The upgrade response parser: any bytes parse, ask for more, or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = _native::ws::parse_handshake_response(data, "dGhlIHNhbXBsZSBub25jZQ==", &["phoenix"]);
});
