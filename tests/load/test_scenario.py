"""Scenario options: layering (demo, TOML, command line), templates, and clear errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from phoenix_fast.cli import build_parser
from phoenix_fast.load.command import cli_options
from phoenix_fast.load.scenario import (
    PushSpec,
    Scenario,
    ScenarioError,
    build_scenario,
    channel_spots,
    load_toml,
    redacted,
    share,
)
from phoenix_fast.load.templates import CHANNEL_FIELDS, PAYLOAD_FIELDS, Template, TemplateError

URL = "ws://localhost:4000/socket"


def parse(*argv: str) -> Scenario:
    args = build_parser().parse_args(["load", *argv])
    return build_scenario(cli_options(args))


def test_no_url_gives_the_demo() -> None:
    sc = parse()
    assert sc.url is None
    assert (sc.socket_count, sc.channels, sc.topic) == (20, 1000, "echo:{i}")
    assert [p.event for p in sc.pushes] == ["ping", "shout"]
    assert sc.subscribe == ("shout",)
    assert sc.run_seconds == 10.0


def test_demo_groups_yield_to_given_options() -> None:
    sc = parse("--duration", "3", "--channels", "300")
    assert sc.run_seconds == 3.0
    assert (sc.channels, sc.socket_count) == (300, 3)  # sockets: just enough
    assert [p.event for p in sc.pushes] == ["ping", "shout"]  # push group untouched
    sc = parse("--push", "ping=50")
    assert sc.pushes == (PushSpec("ping", 50.0, {"seq": "{seq}"}),)
    assert sc.subscribe == ()


def test_url_uses_plain_defaults_and_strips_websocket() -> None:
    sc = parse(URL + "/websocket")
    assert sc.url == URL
    assert (sc.channels, sc.socket_count, sc.pushes, sc.topic) == (100, 1, (), "room:{n}")


def test_push_rate_and_payload_from_the_command_line() -> None:
    sc = parse(URL, "--push", "ping", "--push", "shout=5", "--rate", "40", "--payload", '{"a": 1}')
    assert sc.pushes == (PushSpec("ping", 40.0, {"a": 1}), PushSpec("shout", 5.0, {"a": 1}))


def test_toml_file_and_command_line_override(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'url = "ws://h:1/socket"\nchannels = 400\ntopic = "load:{n}"\nsubscribe = ["tick"]\n'
        "join_params = { user = 'u{n}' }\n"
        '[[push]]\nevent = "fanout"\nrate = 2\npayload = { prefix = "load:", count = 400, n = 1 }\n'
    )
    args = build_parser().parse_args(["load", "-f", str(path), "--channels", "200"])
    sc = build_scenario(cli_options(args), load_toml(args.scenario))
    assert (sc.url, sc.channels, sc.socket_count, sc.topic) == (
        "ws://h:1/socket",
        200,
        2,
        "load:{n}",
    )
    assert sc.pushes == (PushSpec("fanout", 2, {"prefix": "load:", "count": 400, "n": 1}),)
    assert sc.subscribe == ("tick",) and sc.join_params == {"user": "u{n}"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chanels = 3\n", "unknown key 'chanels'"),
        ("channels = \n", "not valid TOML"),
        ("[[push]]\nrate = 3\n", "needs an 'event'"),
        ('[[push]]\nevent = "x"\nspeed = 3\n', "unknown key 'speed' in [[push]]"),
        ('channels = "many"\n', "--channels must be a whole number"),
    ],
)
def test_bad_toml_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[")):
        build_scenario({}, load_toml(path))


def test_missing_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_toml(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "5"], "--rate and --payload apply to --push"),
        (["--join-rate", "10", "--ramp", "2"], "both set the pace of joins"),
        (["--duration", "2", "--messages", "10"], "both say when to stop"),
        ([URL, "--messages", "10"], "--messages counts pushes"),
        (["--sockets", "5", "--channels", "1000"], "200 per socket, above --channels-per-socket"),
        ([URL, "--channels", "5", "--topic", "lobby"], "same for every channel"),
        (["--topic", "room:{x}"], r"unknown placeholder \{x\}"),
        (["--topic", "room:{n"], "room:"),
        (["ftp://host/socket"], "must start with ws://"),
        ([URL, "--procs", "3"], "needs at least 3 sockets"),
        (["--duration", "20", "--time-limit", "5"], "shorter than --duration"),
        ([URL, "--push", "ping=fast"], "not a number"),
        ([URL, "--push", "ping=0"], "rate must be more than 0"),
        ([URL, "--channels", "0", "--push", "ping"], "pushes need channels"),
        (["--payload", '{"a": "{nope}"}', "--push", "ping"], r"unknown placeholder \{nope\}"),
    ],
)
def test_impossible_options_are_explained(argv: list[str], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse(*argv)


def test_topics_must_differ_on_one_socket() -> None:
    # {i} is shared by every socket: fine; but {s} alone repeats on a socket
    parse(URL, "--channels", "10", "--sockets", "2", "--topic", "t:{i}")
    with pytest.raises(ScenarioError, match="both on socket 0"):
        parse(URL, "--channels", "10", "--sockets", "2", "--topic", "t:{s}")


def test_channels_spread_over_sockets_within_the_limit() -> None:
    sc = parse(URL, "--channels", "1050", "--channels-per-socket", "100")
    assert sc.socket_count == 11
    spots = list(channel_spots(sc.channels, sc.socket_count, 0, sc.socket_count))
    assert sorted(s.n for s in spots) == list(range(1050))
    per_socket = Counter(s.s for s in spots)
    assert max(per_socket.values()) <= 100 and min(per_socket.values()) >= 95
    assert all(s.n == s.i * sc.socket_count + s.s for s in spots)


def test_worker_shares_cover_everything_once() -> None:
    sockets, channels, procs = 7, 100, 3
    parts = [share(sockets, p, procs) for p in range(procs)]
    assert [s for part in parts for s in part] == list(range(sockets))
    ns = [
        spot.n for part in parts for spot in channel_spots(channels, sockets, part.start, part.stop)
    ]
    assert sorted(ns) == list(range(channels))
    assert len(share(10, 0, 3)) + len(share(10, 1, 3)) + len(share(10, 2, 3)) == 10


def test_templates_render_numbers_and_strings() -> None:
    tpl = Template(
        {"id": "{n}", "name": "u{n}-{s}", "raw": "{{x}}", "l": [1, "{i}"]}, CHANNEL_FIELDS, "t"
    )
    assert tpl.render({"n": 7, "i": 2, "s": 1, "p": 0}) == {
        "id": 7,
        "name": "u7-1",
        "raw": "{x}",
        "l": [1, 2],
    }
    const = Template({"a": [1, {"b": "c"}]}, PAYLOAD_FIELDS, "t")
    assert const.constant and const.render({}) == {"a": [1, {"b": "c"}]}
    with pytest.raises(TemplateError, match="not a JSON value"):
        Template({"a": object()}, PAYLOAD_FIELDS, "t")
    with pytest.raises(TemplateError, match="no format spec"):
        Template("{n:3}", CHANNEL_FIELDS, "t")


def test_the_documented_toml_example_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "chat.toml"
    path.write_text(block)
    sc = build_scenario({}, load_toml(path))
    assert (sc.channels, sc.socket_count, sc.ramp) == (2000, 20, 5)
    assert [p.event for p in sc.pushes] == ["new_msg", "typing"]


def test_a_scenario_loses_every_secret_and_keeps_the_names() -> None:
    secret = "s3cret-value"
    scenario = Scenario(
        url=f"ws://h:4000/socket?token={secret}",
        auth_token=secret,
        headers=(("X-Api-Key", secret),),
        socket_params={"token": secret},
        join_params={"user_id": secret},
        pushes=(PushSpec("ping", 1.0, {"token": secret, "seq": "{seq}"}),),
    )
    data = scenario.to_dict()
    assert secret not in str(data)
    assert data["url"] == "ws://h:4000/socket?***" and data["auth_token"] == "***"
    assert data["headers"] == [["X-Api-Key", "***"]]
    assert data["socket_params"] == {"token": "***"} and data["join_params"] == {"user_id": "***"}
    assert data["pushes"][0]["payload"] == {"token": "***", "seq": "{seq}"}
    assert data["sockets"] == 1 and data["topic"] == "room:{n}"  # the rest as it was
    assert redacted(data) == data  # a report's scenario can go through it again
    # a scenario written otherwise (by hand, another version): headers as a table, a
    # secret nested anywhere, an empty token left empty
    odd = {"headers": {"Cookie": secret}, "extra": [{"password": secret}], "auth_token": ""}
    assert redacted(odd) == {
        "headers": {"Cookie": "***"},
        "extra": [{"password": "***"}],
        "auth_token": "",
    }
