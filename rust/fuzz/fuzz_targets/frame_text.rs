//! V1 and V2 text envelopes: any bytes either decode or return an error, never panic; a
//! decoded V2 frame re-encodes to a frame that decodes to the same fields.
#![no_main]

use _native::frame::{decode_v1_text, decode_v2_text, encode_v2_text, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_v1_text(data);
    if let Ok(f) = decode_v2_text(data) {
        let _native::frame::Payload::Json(payload) = f.payload else { panic!("text frame with binary payload") };
        let h = Header {
            join_ref: f.join_ref.as_deref(),
            ref_: f.ref_.as_deref(),
            topic: &f.topic,
            event: &f.event,
        };
        let mut out = Vec::new();
        encode_v2_text(&mut out, &h, payload);
        let again = decode_v2_text(&out).expect("re-encoded frame must decode");
        assert_eq!((again.join_ref, again.ref_, again.topic, again.event), (f.join_ref, f.ref_, f.topic, f.event));
    }
});
