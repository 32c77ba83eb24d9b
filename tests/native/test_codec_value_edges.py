"""The native serializer and its pure-Python twin on the JSON values the main differential
test leaves out: any int, any float (NaN and infinities too), dict keys that are not strings.
Either both refuse the payload with ``EncodeError``, or both send the same values (the text
may differ: orjson writes ``1e-7`` where ``json`` writes ``1e-07``)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_fast import Message, ReferenceSerializer, Serializer
from phoenix_fast.errors import EncodeError

NATIVE = Serializer("2.0.0")
REFERENCE = ReferenceSerializer("2.0.0")

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
keys = st.text(max_size=6) | st.integers(-3, 3)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)


def _sent(serializer: Any, payload: Any) -> Any:
    try:
        frame = serializer.encode(Message(None, "1", "room", "event", payload))
    except EncodeError:
        return EncodeError
    return json.loads(frame, parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} in a frame: no JSON parser on the server accepts it")


@settings(max_examples=400)
@given(payload=st.dictionaries(st.text(max_size=6), values, max_size=4))
def test_both_refuse_or_both_send_the_same_values(payload: dict[str, Any]) -> None:
    assert _sent(REFERENCE, payload) == _sent(NATIVE, payload)
