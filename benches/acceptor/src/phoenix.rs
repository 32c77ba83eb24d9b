//! Just enough of the Phoenix V2 JSON serializer: a client frame
//! `[join_ref, ref, topic, event, payload]` in, the `phx_reply` the server would send out.
//!
//! The frame is split into its five raw JSON values without building a tree, and the reply
//! echoes `join_ref`, `ref` and `topic` byte for byte, as Phoenix does. Every event gets
//! `{"status":"ok","response":{}}`: a join, a leave, a heartbeat on `phoenix`, and any push
//! (so a load run with pushes at a rate gets its replies too).

use serde_json::value::RawValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Join,
    Leave,
    Heartbeat,
    Push,
}

pub type Frame<'a> = (&'a RawValue, &'a RawValue, &'a RawValue, &'a RawValue, &'a RawValue);

/// The reply to one client frame, and what the frame was; an error names what was wrong.
pub fn answer(text: &str) -> Result<(Kind, String), String> {
    let (join_ref, reference, topic, event, _payload): Frame =
        serde_json::from_str(text).map_err(|e| format!("not a Phoenix V2 frame ({e})"))?;
    if !is_string(topic) || !is_string(event) {
        return Err("not a Phoenix V2 frame (topic and event must be strings)".into());
    }
    let kind = match event.get() {
        r#""phx_join""# => Kind::Join,
        r#""phx_leave""# => Kind::Leave,
        r#""heartbeat""# if topic.get() == r#""phoenix""# => Kind::Heartbeat,
        _ => Kind::Push,
    };
    let reply = format!(
        r#"[{},{},{},"phx_reply",{{"status":"ok","response":{{}}}}]"#,
        join_ref.get(),
        reference.get(),
        topic.get()
    );
    Ok((kind, reply))
}

fn is_string(value: &RawValue) -> bool {
    value.get().starts_with('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_is_answered_ok_with_its_refs_and_topic() {
        let (kind, reply) = answer(r#"["3","3","room:1","phx_join",{"user":"u"}]"#).unwrap();
        assert_eq!(kind, Kind::Join);
        assert_eq!(reply, r#"["3","3","room:1","phx_reply",{"status":"ok","response":{}}]"#);
    }

    #[test]
    fn heartbeats_leaves_and_pushes_are_told_apart() {
        let (kind, reply) = answer(r#"[null,"9","phoenix","heartbeat",{}]"#).unwrap();
        assert_eq!(kind, Kind::Heartbeat);
        assert_eq!(reply, r#"[null,"9","phoenix","phx_reply",{"status":"ok","response":{}}]"#);
        assert_eq!(answer(r#"["3","4","room:1","phx_leave",{}]"#).unwrap().0, Kind::Leave);
        assert_eq!(answer(r#"["3","5","room:1","heartbeat",{}]"#).unwrap().0, Kind::Push);
        assert_eq!(answer(r#"["3","6","room:1","ping",{"seq":[1,2]}]"#).unwrap().0, Kind::Push);
    }

    #[test]
    fn other_shapes_are_refused() {
        for frame in [
            r#"{"topic":"room:1","event":"phx_join","payload":{},"ref":"1"}"#, // V1
            r#"["3","3","room:1","phx_join"]"#,
            r#"["3","3","room:1","phx_join",{},1]"#,
            r#"["3","3",1,"phx_join",{}]"#,
            "not json",
        ] {
            assert!(answer(frame).unwrap_err().contains("not a Phoenix V2 frame"), "{frame}");
        }
    }
}
