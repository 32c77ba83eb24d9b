"""A load scenario: its options, read from the command line and a TOML file, and checked.

Options are layered: built-in defaults, then the TOML file (``--scenario``), then the
command line. Without a URL the run targets the embedded reference server, and the options
left unset take the values of the demonstration scenario (:data:`DEMO`), group by group.
"""

from __future__ import annotations

import math
import re
import string
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from phoenix_fast._redact import MASK
from phoenix_fast.load.templates import (
    CHANNEL_FIELDS,
    PAYLOAD_FIELDS,
    SOCKET_FIELDS,
    Template,
    TemplateError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "DEMO",
    "PushSpec",
    "Scenario",
    "ScenarioError",
    "Stage",
    "build_scenario",
    "comparable",
    "load_toml",
    "parse_duration",
    "parse_stage",
    "redacted",
]

#: Phoenix's default ``max_channels_per_transport`` (1.8.9 and later).
PHOENIX_MAX_CHANNELS = 100
#: Checking topics for duplicates stops after this many channels per socket.
_TOPIC_CHECK_LIMIT = 200_000


class ScenarioError(ValueError):
    """An impossible or malformed scenario; the message says what to change."""


@dataclass(frozen=True)
class PushSpec:
    """One kind of push: ``event`` at ``rate`` per second with a payload template."""

    event: str
    rate: float = 100.0
    payload: Any = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage: over ``duration`` seconds the push rates ramp linearly from the previous
    stage's targets (0 before the first) to this one's: ``rates[event]`` for the events it
    names, else ``rate`` if given, else the push's own rate. With ``channels``, the number
    of joined channels ramps too (joins up to it, or leaves down to it), from the previous
    stage's (0 before the first, if the first stage has ``channels``)."""

    duration: float
    rate: float | None = None
    rates: dict[str, float] = field(default_factory=dict)
    channels: int | None = None

    @property
    def sets_rates(self) -> bool:
        """Whether the stage sets push rates (a stage may set only ``channels``)."""
        return self.rate is not None or bool(self.rates)

    def target(self, spec: PushSpec) -> float:
        """The rate ``spec`` reaches at the end of this stage (all processes together)."""
        if spec.event in self.rates:
            return float(self.rates[spec.event])
        return float(self.rate) if self.rate is not None else float(spec.rate)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, where: str) -> float:
    """Seconds in ``"30s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or ``"12.5"`` (seconds).

    Raises:
        ScenarioError: not a duration.
    """
    text = text.strip()
    number, unit = text, "s"
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix
            break
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ScenarioError(
            f"{where}: {text!r} is not a duration (e.g. 30s, 500ms, 2m, 1h)"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ScenarioError(f"{where}: {text!r} must be a finite duration >= 0")
    return value


def parse_stage(text: str) -> Stage:
    """A ``--stage DURATION:RATE`` (``30s:1000``).

    Raises:
        ScenarioError: with the expected form.
    """
    duration, sep, rate = text.partition(":")
    form = "--stage DURATION:RATE, e.g. --stage 30s:1000 (ramp to 1000 pushes/s in 30 s)"
    if not sep:
        raise ScenarioError(f"--stage {text!r}: expected {form}")
    try:
        value = float(rate)
    except ValueError:
        raise ScenarioError(f"--stage {text!r}: the rate is not a number; {form}") from None
    return Stage(parse_duration(duration, f"--stage {text!r}"), value)


@dataclass(frozen=True)
class Scenario:
    """Every option of a load run (see ``phoenix-fast load --help``)."""

    url: str | None = None
    sockets: int | None = None
    channels: int = 100
    channels_per_socket: int = PHOENIX_MAX_CHANNELS
    topic: str = "room:{n}"
    join_params: Any = field(default_factory=dict)
    socket_params: Any = field(default_factory=dict)
    join_rate: float = 0.0
    ramp: float = 0.0
    pushes: tuple[PushSpec, ...] = ()
    subscribe: tuple[str, ...] = ()
    duration: float | None = None
    messages: int | None = None
    time_limit: float | None = None
    join_timeout: float = 10.0
    push_timeout: float = 10.0
    max_in_flight: int = 10_000
    connect_concurrency: int = 100
    #: Local addresses the sockets leave from, round-robin (``--source-ip``).
    source_ips: tuple[str, ...] = ()
    heartbeat: float = 30.0
    procs: int = 1
    stages: tuple[Stage, ...] = ()
    thresholds: tuple[str, ...] = ()
    interval: float = 1.0
    #: How the sockets connect (see :mod:`phoenix_fast.load.connection`).
    transport: str = "websocket"
    long_poll_fallback: float | None = None
    auth_token: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    vsn: str = "2.0.0"
    compress: bool = False
    cacert: str | None = None
    insecure: bool = False
    #: Join presence topics and measure them (see :mod:`phoenix_fast.load.presence`).
    presence: bool = False
    #: Restart the embedded server every this many seconds (a rejoin storm on purpose).
    restart_every: float | None = None

    @property
    def socket_count(self) -> int:
        """Sockets to open: ``sockets``, or just enough for ``channels_per_socket``."""
        if self.sockets is not None:
            return self.sockets
        return max(1, math.ceil(self.channels / self.channels_per_socket))

    @property
    def run_seconds(self) -> float | None:
        """The duration (None when the run ends on a message count)."""
        if self.messages is not None:
            return None
        if self.stages:
            return sum(stage.duration for stage in self.stages)
        return 10.0 if self.duration is None else self.duration

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready data (for reports)."""
        data = asdict(self)
        data["pushes"] = [asdict(p) for p in self.pushes]
        data["subscribe"] = list(self.subscribe)
        data["sockets"] = self.socket_count
        data["stages"] = [asdict(stage) for stage in self.stages]
        data["thresholds"] = list(self.thresholds)
        data["headers"] = [list(pair) for pair in self.headers]
        return redacted(data)


#: Scenario keys that change nothing of the load a server sees: the target (each machine of a
#: merged run may aim at its own), the processes it is split over, and the verdicts asked for.
_NOT_THE_LOAD = ("url", "procs", "thresholds")


def comparable(scenario: Any) -> Any:
    """A report's ``scenario`` without :data:`_NOT_THE_LOAD`: two runs whose comparable
    scenarios are equal ran the same load (``report merge`` and ``report compare`` say when
    their reports did not)."""
    if not isinstance(scenario, dict):
        return scenario
    return {k: v for k, v in scenario.items() if k not in _NOT_THE_LOAD}


#: Keys whose values are secrets wherever they sit in a scenario's data (a push payload's
#: ``token`` too); ``join_params`` is one as a whole, though its name does not say so.
_SECRET_KEY = re.compile(r"token|secret|passw|auth|cookie|header|key|_params", re.I)


def redacted(data: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's data without its secrets, as reports and the HTML page show it: a URL
    loses its query, the auth token, the header values, every value of the connect and join
    params and whatever sits under a key that names a secret become ``***``. Names are kept
    (header names, param names), so a report still says what was sent. Any report's
    scenario can go through it, one written by hand or by another version, and again."""
    return {str(key): _redacted(value, str(key)) for key, value in data.items()}


def _redacted(value: Any, key: str) -> Any:
    if _SECRET_KEY.search(key):
        return _masked(value)
    if key == "url" and isinstance(value, str):
        from phoenix_fast._redact import redact_url

        return redact_url(value)
    if isinstance(value, Mapping):
        return redacted(value)
    if isinstance(value, list):
        return [_redacted(item, key) for item in value]
    return value


def _masked(value: Any) -> Any:
    """``value`` with each secret as ``***``: a table's or a pair's name is kept; an empty
    value stays as it is (it says that none was sent)."""
    if value in (None, "", [], {}):
        return value
    if isinstance(value, Mapping):
        return dict.fromkeys(value, MASK)
    if isinstance(value, (list, tuple)):
        return [_masked_pair(item) for item in value]
    return MASK


def _masked_pair(item: Any) -> Any:
    """A header as ``[name, value]``: ``[name, "***"]``; anything else: ``***``."""
    if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
        return [item[0], MASK]
    return MASK


#: The demonstration run against the embedded server: 20 sockets x 50 channels on
#: ``echo:{i}`` (each topic shared by the 20 sockets), 2,000 pings/s timed, and 100
#: shouts/s, each broadcast to the topic's 20 subscribers (2,000 incoming events/s, each
#: timed by the ``ts`` its payload carries).
DEMO: tuple[dict[str, Any], ...] = (
    {"sockets": 20, "channels": 1000},
    {"topic": "echo:{i}", "join_params": {"client": "phoenix-fast load", "n": "{n}"}},
    {
        "pushes": (
            PushSpec("ping", 2000.0, {"seq": "{seq}", "n": "{n}"}),
            PushSpec("shout", 100.0, {"from": "{s}", "seq": "{seq}", "ts": "{ts}"}),
        ),
        "subscribe": ("shout",),
    },
    {"duration": 10.0, "messages": None},
)

#: What ``--presence`` sets when the command line and the file leave it unset: each socket's
#: channel ``i`` on ``presence:{i}`` (a topic per channel number, with every socket in it),
#: one user per channel, and no pushes (the demo's pings go to echo topics).
PRESENCE_DEFAULTS: dict[str, Any] = {
    "topic": "presence:{i}",
    "join_params": {"user_id": "user-{n}"},
    "pushes": (),
    "subscribe": (),
}

_KNOWN = {f.name for f in fields(Scenario)} - {"pushes", "stages"} | {"push", "stage"}


def load_toml(path: str | Path) -> dict[str, Any]:
    """The options of a TOML scenario file, as ``build_scenario`` takes them.

    Raises:
        ScenarioError: the file is missing, not TOML, or has unknown or mistyped keys.
    """
    try:
        data: dict[str, Any] = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ScenarioError(
            f"scenario file {path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})"
        )
    if "push" in data:
        data["pushes"] = _toml_pushes(data.pop("push"), str(path))
    if "subscribe" in data:
        subscribe = data["subscribe"]
        if isinstance(subscribe, str):
            subscribe = [subscribe]
        data["subscribe"] = tuple(subscribe)
    if "stage" in data:
        data["stages"] = _toml_stages(data.pop("stage"), str(path))
    if "thresholds" in data:
        thresholds = data["thresholds"]
        if isinstance(thresholds, str):
            thresholds = [thresholds]
        if not isinstance(thresholds, list) or not all(isinstance(t, str) for t in thresholds):
            raise ScenarioError(
                f"scenario file {path}: thresholds must be a list of strings such as "
                '["push:ping p99<50ms", "errors rate<0.1%"]'
            )
        data["thresholds"] = tuple(thresholds)
    if "headers" in data:
        data["headers"] = toml_headers(data["headers"], str(path))
    return data


def parse_header(text: str, where: str = "--header") -> tuple[str, str]:
    """A ``"Name: value"`` header.

    Raises:
        ScenarioError: no colon, an empty or invalid name, or a line break in the value.
    """
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: a header is a string 'Name: value', not {text!r}")
    name, sep, value = text.partition(":")
    return check_header(name.strip(), value.strip(), where) if sep else _bad_header(where)


def _bad_header(where: str) -> tuple[str, str]:
    raise ScenarioError(
        f"{where}: expected 'Name: value', e.g. --header 'X-Api-Key: abc' (the name, a colon, "
        "the value)"
    )


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def check_header(name: Any, value: Any, where: str) -> tuple[str, str]:
    """``(name, value)`` if they make an HTTP header, else :class:`ScenarioError`."""
    if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
        raise ScenarioError(
            f"{where}: header name {name!r} is not an HTTP token (letters, digits and "
            "!#$%&'*+-.^_`|~, no spaces), e.g. 'X-Api-Key: abc'"
        )
    if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
        raise ScenarioError(
            f"{where}: the value of header {name!r} must be one line of text (no line breaks)"
        )
    return name, value


def toml_headers(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    """``headers`` of a scenario file: a table ``{Name = "value"}`` or a list of
    ``"Name: value"`` strings."""
    where = f"scenario file {path}: headers"
    if isinstance(value, dict):
        return tuple(check_header(k, v, where) for k, v in value.items())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ScenarioError(
            f'{where} must be a table such as {{X-Api-Key = "abc"}} or a list of '
            "'Name: value' strings"
        )
    return tuple(parse_header(item, where) for item in value)


def _toml_stages(value: Any, path: str) -> tuple[Stage, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ScenarioError(f"scenario file {path}: 'stage' must be [[stage]] tables")
    stages = []
    for table in value:
        where = f"scenario file {path}: [[stage]]"
        if not isinstance(table, dict) or "duration" not in table:
            raise ScenarioError(f"{where} needs a 'duration' (e.g. duration = \"30s\")")
        extra = sorted(set(table) - {"duration", "rate", "rates", "channels"})
        if extra:
            raise ScenarioError(
                f"{where}: unknown key {extra[0]!r} (known: duration, rate, rates, channels)"
            )
        if not {"rate", "rates", "channels"} & set(table):
            raise ScenarioError(
                f"{where} needs 'rate', 'rates' or 'channels' (e.g. rates = {{ping = 1000}})"
            )
        duration = table["duration"]
        if isinstance(duration, str):
            duration = parse_duration(duration, where)
        rates = table.get("rates", {})
        if not isinstance(rates, dict):
            raise ScenarioError(f"{where}: rates must be a table such as {{ping = 1000}}")
        stages.append(Stage(duration, table.get("rate"), dict(rates), table.get("channels")))
    return tuple(stages)


def _toml_pushes(value: Any, path: str) -> tuple[PushSpec, ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ScenarioError(f"scenario file {path}: 'push' must be [[push]] tables")
    pushes = []
    for table in value:
        if not isinstance(table, dict) or "event" not in table:
            raise ScenarioError(f"scenario file {path}: each [[push]] needs an 'event'")
        extra = sorted(set(table) - {"event", "rate", "payload"})
        if extra:
            raise ScenarioError(
                f"scenario file {path}: unknown key {extra[0]!r} in [[push]] "
                "(known: event, rate, payload)"
            )
        pushes.append(PushSpec(**table))
    return tuple(pushes)


def build_scenario(
    options: Mapping[str, Any], file_options: Mapping[str, Any] | None = None
) -> Scenario:
    """The checked scenario: defaults, then ``file_options``, then ``options`` (None = unset).

    Raises:
        ScenarioError: with a message naming the options to change.
    """
    given = {k: v for k, v in (file_options or {}).items()}
    given.update({k: v for k, v in options.items() if v is not None})
    if given.get("presence") is True:
        for key, value in PRESENCE_DEFAULTS.items():
            given.setdefault(key, value)
    if given.get("url") is None:
        for group in DEMO:
            if not any(key in given for key in group):
                given.update(group)
    try:
        scenario = Scenario(**given)
    except TypeError as exc:
        raise ScenarioError(f"bad scenario: {exc}") from None
    scenario = _with_source_ips(_normalized(scenario))
    check(scenario)
    return scenario


def _normalized(scenario: Scenario) -> Scenario:
    from phoenix_fast.load.connection import header_pairs

    url = scenario.url
    if url is not None:
        url = url.rstrip("/")
        for tail in ("/websocket", "/longpoll"):
            if url.endswith(tail):
                url = url[: -len(tail)]
    return replace(
        scenario,
        url=url,
        pushes=tuple(p if isinstance(p, PushSpec) else PushSpec(**p) for p in scenario.pushes),
        subscribe=tuple(scenario.subscribe),
        stages=tuple(s if isinstance(s, Stage) else Stage(**s) for s in scenario.stages),
        thresholds=tuple(scenario.thresholds),
        headers=header_pairs(scenario.headers),
    )


def check(scenario: Scenario) -> None:
    """Raises :class:`ScenarioError` when the options are impossible together."""
    _check_types(scenario)
    _check_counts(scenario)
    _check_timing(scenario)
    _check_pushes(scenario)
    _check_stages(scenario)
    _check_templates(scenario)
    _check_thresholds(scenario)
    _check_presence(scenario)
    _check_restart(scenario)
    from phoenix_fast.load.connection import check_connection

    check_connection(scenario)


def _check_types(s: Scenario) -> None:
    ints = ("channels", "channels_per_socket", "max_in_flight", "procs", "connect_concurrency")
    for name in ints:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{_opt(name)} must be a whole number, not {value!r}")
    for name in ("sockets", "messages"):
        value = getattr(s, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ScenarioError(f"{_opt(name)} must be a whole number, not {value!r}")
    for name in ("join_rate", "ramp", "join_timeout", "push_timeout", "heartbeat"):
        _number(name, getattr(s, name))
    for name in ("duration", "time_limit"):
        if getattr(s, name) is not None:
            _number(name, getattr(s, name))
    if s.url is not None and not s.url.startswith(("ws://", "wss://", "http://", "https://")):
        raise ScenarioError(
            f"URL {s.url!r} must start with ws://, wss://, http:// or https:// "
            "(e.g. ws://localhost:4000/socket)"
        )


def _number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ScenarioError(f"{_opt(name)} must be a number >= 0, not {value!r}")


def _check_counts(s: Scenario) -> None:
    if s.channels < 0:
        raise ScenarioError("--channels must be >= 0")
    if s.channels_per_socket < 1:
        raise ScenarioError("--channels-per-socket must be at least 1")
    if s.sockets is not None and s.sockets < 1:
        raise ScenarioError("--sockets must be at least 1")
    per_socket = math.ceil(s.channels / s.socket_count)
    if per_socket > s.channels_per_socket:
        need = math.ceil(s.channels / s.channels_per_socket)
        raise ScenarioError(
            f"{s.channels} channels over {s.socket_count} sockets is {per_socket} per socket, "
            f"above --channels-per-socket {s.channels_per_socket} (the server's limit; "
            f"Phoenix's default is {PHOENIX_MAX_CHANNELS}): use --sockets {need} or more, "
            "or leave --sockets unset to open as many as needed"
        )
    if s.procs < 1:
        raise ScenarioError("--procs must be at least 1")
    if s.procs > s.socket_count:
        raise ScenarioError(
            f"--procs {s.procs} needs at least {s.procs} sockets (each process opens its own); "
            f"this scenario opens {s.socket_count}"
        )
    if s.max_in_flight < 1 or s.connect_concurrency < 1:
        raise ScenarioError("--max-in-flight and --connect-concurrency must be at least 1")


def _check_timing(s: Scenario) -> None:
    if s.join_rate and s.ramp:
        raise ScenarioError(
            "--join-rate and --ramp both set the pace of joins: give one "
            f"(--ramp {s.ramp:g} means {s.channels / s.ramp:.0f} joins/s here)"
        )
    if s.duration is not None and s.messages is not None:
        raise ScenarioError("--duration and --messages both say when to stop: give one")
    if s.duration == 0:
        raise ScenarioError("--duration must be more than 0 s")
    if s.messages is not None and s.messages < 1:
        raise ScenarioError("--messages must be at least 1")
    if s.time_limit is not None:
        if s.time_limit <= 0:
            raise ScenarioError("--time-limit must be more than 0 s")
        run = s.run_seconds
        if run is not None and s.time_limit < run:
            raise ScenarioError(
                f"--time-limit {s.time_limit:g} s is shorter than --duration {run:g} s"
            )
    if s.join_timeout <= 0 or s.push_timeout <= 0:
        raise ScenarioError("--join-timeout and --push-timeout must be more than 0 s")


def _check_pushes(s: Scenario) -> None:
    for push in s.pushes:
        if not isinstance(push.event, str) or not push.event:
            raise ScenarioError(f"a push needs an event name, not {push.event!r}")
        if isinstance(push.rate, bool) or not isinstance(push.rate, (int, float)):
            raise ScenarioError(f"push {push.event!r}: rate must be a number, not {push.rate!r}")
        if push.rate <= 0:
            raise ScenarioError(f"push {push.event!r}: rate must be more than 0 per second")
    if s.messages is not None and not s.pushes:
        raise ScenarioError("--messages counts pushes: add --push EVENT (e.g. --push ping)")
    if s.pushes and s.channels == 0:
        raise ScenarioError("pushes need channels: --channels is 0")
    if s.subscribe and s.channels == 0:
        raise ScenarioError("--subscribe counts events on channels: --channels is 0")


def _check_stages(s: Scenario) -> None:
    if isinstance(s.interval, bool) or not isinstance(s.interval, (int, float)):
        raise ScenarioError(f"--interval must be a number of seconds, not {s.interval!r}")
    if not 0.05 <= s.interval <= 3600:
        raise ScenarioError(f"--interval {s.interval:g}: give 0.05 to 3600 seconds (1 by default)")
    if not s.stages:
        return
    if s.duration is not None or s.messages is not None:
        raise ScenarioError(
            "--stage sets the run's length (the sum of the stages): drop --duration/--messages"
        )
    if not s.pushes and any(stage.sets_rates for stage in s.stages):
        raise ScenarioError("--stage ramps push rates: add --push EVENT (e.g. --push ping)")
    if any(stage.channels is not None for stage in s.stages) and (s.join_rate or s.ramp):
        raise ScenarioError(
            "stages with 'channels' set the pace of joins: drop --join-rate and --ramp"
        )
    events = {p.event for p in s.pushes}
    for k, stage in enumerate(s.stages, 1):
        _check_stage(f"stage {k}", stage, s.channels, events)


def _check_stage(where: str, stage: Stage, channels: int, events: set[str]) -> None:
    if isinstance(stage.duration, bool) or not isinstance(stage.duration, (int, float)):
        raise ScenarioError(f"{where}: duration must be a number of seconds or '30s'")
    if not math.isfinite(stage.duration) or stage.duration <= 0:
        raise ScenarioError(f"{where}: duration must be more than 0 s")
    rates = list(stage.rates.values()) + ([stage.rate] if stage.rate is not None else [])
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
            raise ScenarioError(f"{where}: a rate must be a number >= 0, not {rate!r}")
    count = stage.channels
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= channels
    ):
        raise ScenarioError(
            f"{where}: channels must be a whole number from 0 to --channels {channels} "
            f"(the most joined at once), not {count!r}; raise channels if needed"
        )
    unknown = sorted(set(stage.rates) - events)
    if unknown:
        raise ScenarioError(
            f"{where}: rates name {unknown[0]!r}, which is not pushed "
            f"(pushed: {', '.join(sorted(events))})"
        )


def _check_presence(s: Scenario) -> None:
    if not isinstance(s.presence, bool):
        raise ScenarioError(f"presence must be true or false, not {s.presence!r}")
    if s.presence and "user_id" not in s.join_params:
        raise ScenarioError(
            "--presence tracks each channel under the user_id of its join params: add one, "
            'e.g. --join-params \'{"user_id": "user-{n}"}\''
        )


def _check_restart(s: Scenario) -> None:
    every = s.restart_every
    if every is None:
        return
    if isinstance(every, bool) or not isinstance(every, (int, float)) or every <= 0:
        raise ScenarioError(f"--restart-every must be a number of seconds > 0, not {every!r}")
    if s.url is not None:
        raise ScenarioError(
            "--restart-every restarts the embedded server (no URL); against your server, cut "
            "every connection with phoenix_fast.testing.FaultProxy (see the load-testing guide)"
        )


def _check_thresholds(s: Scenario) -> None:
    from phoenix_fast.load.thresholds import ThresholdError, parse_threshold

    try:
        for expr in s.thresholds:
            parse_threshold(expr)
    except ThresholdError as exc:
        raise ScenarioError(str(exc)) from None


def _check_templates(s: Scenario) -> None:
    try:
        topic = Template(s.topic, CHANNEL_FIELDS, "--topic")
        Template(s.join_params, CHANNEL_FIELDS, "--join-params")
        Template(s.socket_params, SOCKET_FIELDS, "--socket-params")
        for push in s.pushes:
            Template(push.payload, PAYLOAD_FIELDS, f"payload of push {push.event!r}")
    except TemplateError as exc:
        raise ScenarioError(str(exc)) from None
    if not isinstance(s.topic, str) or not s.topic:
        raise ScenarioError("--topic must be a non-empty string such as 'room:{n}'")
    if not isinstance(s.join_params, dict) or not isinstance(s.socket_params, dict):
        raise ScenarioError("--join-params and --socket-params must be JSON objects")
    _check_topics(s, topic)


def _check_topics(s: Scenario, topic: Template) -> None:
    """A socket joins each topic once: the template must give distinct topics per socket."""
    if topic.constant and math.ceil(s.channels / s.socket_count) > 1:
        raise ScenarioError(
            f"--topic {s.topic!r} is the same for every channel, but a socket joins a topic "
            "once: put {n} (unique channel number) or {i} (number on the socket) in it"
        )
    if topic.constant:
        return
    seen: dict[tuple[int, str], int] = {}
    for spot in channel_spots(s.channels, s.socket_count, 0, s.socket_count):
        if spot.n >= _TOPIC_CHECK_LIMIT:
            break
        name = str(topic.render(spot.values(0)))
        first = seen.setdefault((spot.s, name), spot.n)
        if first != spot.n:
            raise ScenarioError(
                f"--topic {s.topic!r} gives {name!r} to channels {first} and {spot.n}, both on "
                f"socket {spot.s}: a socket joins a topic once; use {{n}} or {{i}} in the template"
            )


@dataclass(frozen=True)
class Spot:
    """Where a channel goes: number ``n`` overall, ``i`` on socket ``s``."""

    n: int
    i: int
    s: int

    def values(self, proc: int) -> dict[str, int]:
        """The template values of the channel."""
        return {"n": self.n, "i": self.i, "s": self.s, "p": proc}


def channel_spots(channels: int, sockets: int, first: int, stop: int) -> Iterator[Spot]:
    """The channels of sockets ``first`` to ``stop - 1``, in join order.

    Channel ``n`` goes to socket ``n % sockets``: joins go round the sockets, so sockets
    open progressively during a ramp and every socket gets at most one channel more
    than any other.
    """
    for i in range(math.ceil(channels / sockets) if sockets else 0):
        for s in range(first, stop):
            n = i * sockets + s
            if n < channels:
                yield Spot(n, i, s)


def share(total: int, part: int, parts: int) -> range:
    """Part ``part`` of ``range(total)`` cut into ``parts`` contiguous, balanced pieces."""
    return range(total * part // parts, total * (part + 1) // parts)


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")


def _with_source_ips(s: Scenario) -> Scenario:
    """``--source-ip`` ranges spelled out, each address checked to be this machine's.

    Raises:
        ScenarioError: not a list of addresses or ranges, or an address not of this machine.
    """
    from phoenix_fast.load.source_ips import SourceIpError, check_local, expand

    if not s.source_ips:
        return s
    items = s.source_ips
    if isinstance(items, str) or not all(isinstance(a, str) for a in items):
        raise ScenarioError(
            'source_ips must be a list of addresses or ranges, e.g. ["127.0.0.2-127.0.0.9"]'
        )
    try:
        addresses = expand(items)
        check_local(addresses)
    except SourceIpError as exc:
        raise ScenarioError(str(exc)) from None
    return replace(s, source_ips=addresses)
