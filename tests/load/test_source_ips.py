"""``--source-ip``: ranges, the local-address check, and sockets spread round-robin."""

from __future__ import annotations

import pytest

from phoenix_fast.load.runner import Runner
from phoenix_fast.load.scenario import ScenarioError, build_scenario
from phoenix_fast.load.source_ips import SourceIpError, expand


def test_ranges_are_spelled_out_in_order_without_repeats() -> None:
    assert expand(["127.0.0.2-127.0.0.4", "127.0.0.3", "127.0.0.9"]) == (
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.9",
    )


@pytest.mark.parametrize("bad", ["localhost", "127.0.0.9-127.0.0.2", "127.0.0.1-::1", "1.2.3"])
def test_bad_addresses_and_ranges_are_refused(bad: str) -> None:
    with pytest.raises(SourceIpError, match="--source-ip"):
        expand([bad])


def test_an_address_of_another_machine_is_refused_before_connecting() -> None:
    with pytest.raises(ScenarioError, match="not an address of this machine"):
        build_scenario({"url": "ws://127.0.0.1:9/socket", "source_ips": ("192.0.2.7",)})


async def test_sockets_leave_from_the_addresses_round_robin(phoenix_url: str) -> None:
    scenario = build_scenario(
        {
            "url": phoenix_url,
            "sockets": 4,
            "channels": 4,
            "topic": "echo:src{n}",
            "duration": 0.3,
            "source_ips": ("127.0.0.2-127.0.0.3",),
        }
    )
    runner = Runner(scenario)
    result = await runner.run()
    seen = [slot.socket.local_address for slot in runner._slots]
    assert result.stats.counters["joins_ok"] == 4
    assert seen == ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]


def test_the_cli_refuses_a_foreign_address_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from phoenix_fast.cli import main

    status = main(["load", "ws://127.0.0.1:9/socket", "--source-ip", "192.0.2.7", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and "192.0.2.7 is not an address of this machine" in err
