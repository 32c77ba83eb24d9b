"""``--source-ip``: spreading a run's sockets over several local addresses.

One local address reaches one server address and port through about 28,000 ephemeral ports
under Linux defaults (``net.ipv4.ip_local_port_range``); each more local address brings as
many again. The sockets are bound round-robin: socket ``i`` leaves from address
``i % len(addresses)``. Addresses are given one by one or as ranges
(``127.0.0.2-127.0.0.9``), and each must be an address of this machine.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable

__all__ = [
    "CROWDED_PER_ADDRESS",
    "MAX_ADDRESSES",
    "SourceIpError",
    "check_local",
    "crowding_warning",
    "expand",
]

#: The most addresses one run may list (a range such as 10.0.0.0-10.255.255.255 is a typo).
MAX_ADDRESSES = 4096

#: Sockets per source address past which connecting slows down. uvloop binds a connection's
#: local address with SO_REUSEADDR set (libuv always sets it), and Linux's search for a free
#: port under SO_REUSEADDR grows with the ports already bound on that address. Measured with
#: the load tool, one process, 12,000 sockets: 4,000 per address cost 1.0 s of system CPU,
#: as many as no --source-ip (0.9 s); 12,000 on one address 4.8 s, and the joins fell from
#: 4,600/s to 730/s.
CROWDED_PER_ADDRESS = 4_000


class SourceIpError(ValueError):
    """A ``--source-ip`` that is not an address, not a range, or not of this machine."""


def expand(items: Iterable[str]) -> tuple[str, ...]:
    """The addresses ``items`` name, ranges spelled out, in order, without repeats.

    Raises:
        SourceIpError: an item that is not an IP address or an ``A-B`` range of them.
    """
    addresses: dict[str, None] = {}
    for item in items:
        first, dash, last = item.strip().partition("-")
        try:
            start = ipaddress.ip_address(first.strip())
            end = ipaddress.ip_address(last.strip()) if dash else start
        except ValueError:
            raise SourceIpError(
                f"--source-ip {item!r} is not an IP address or a range such as 127.0.0.2-127.0.0.9"
            ) from None
        if start.version != end.version or int(end) < int(start):
            raise SourceIpError(f"--source-ip {item!r}: the range must run low to high")
        if int(end) - int(start) + len(addresses) >= MAX_ADDRESSES:
            raise SourceIpError(f"--source-ip: more than {MAX_ADDRESSES} addresses in all")
        for value in range(int(start), int(end) + 1):
            addresses[str(ipaddress.ip_address(value))] = None
    return tuple(addresses)


def check_local(addresses: Iterable[str]) -> None:
    """Binds a throwaway socket to each address, as the run's sockets will.

    Raises:
        SourceIpError: an address this machine does not have (the message says how to add
            one, or that any 127.x.y.z works on Linux loopback).
    """
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, 0))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise SourceIpError(
                        f"--source-ip {address} is not an address of this machine: add it "
                        f"(ip addr add {address}/32 dev <interface>), or use loopback "
                        "addresses (any 127.x.y.z is local on Linux)"
                    ) from None
                raise SourceIpError(
                    f"--source-ip {address}: cannot bind ({exc.strerror})"
                ) from None


def crowding_warning(sockets: int, addresses: tuple[str, ...]) -> str | None:
    """A one-line warning when ``sockets`` spread over ``addresses`` put more than
    :data:`CROWDED_PER_ADDRESS` on one address, with the number of addresses to give instead;
    None when they do not."""
    if not addresses:
        return None
    per_address = -(-sockets // len(addresses))
    if per_address <= CROWDED_PER_ADDRESS:
        return None
    needed = -(-sockets // CROWDED_PER_ADDRESS)
    return (
        f"phoenix-fast: warning: --source-ip: {per_address:,} sockets per address; past "
        f"{CROWDED_PER_ADDRESS:,} the search for a free port at each bind slows the "
        f"connects down: give {needed} or more addresses (e.g. a range such as "
        f"127.0.0.2-127.0.0.{needed + 1} on loopback)"
    )
