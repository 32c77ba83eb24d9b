//! Binary frames from the server: any bytes decode or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = _native::frame::decode_binary(data);
});
