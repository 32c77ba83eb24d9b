#!/bin/sh
# Two network namespaces joined by a veth link, for the coalescing study (needs root).
#
#   benches/coalesce/netns.sh up     # pfc-srv (192.0.2.1) <-veth-> pfc-cli (192.0.2.2)
#   benches/coalesce/netns.sh down   # removes both (the veth pair goes with them)
#   benches/coalesce/netns.sh status
#
# The addresses are TEST-NET-1 (RFC 5737, documentation only), which exist inside these two
# namespaces alone: nothing is routed outside them. Each namespace also has its own loopback,
# so a "loopback" run inside pfc-srv has TCP counters (/proc/net/snmp) that no one else's
# traffic touches.
set -eu

SRV=pfc-srv
CLI=pfc-cli

up() {
    ip netns add "$SRV"
    ip netns add "$CLI"
    ip link add pfc-s netns "$SRV" type veth peer name pfc-c netns "$CLI"
    ip -n "$SRV" addr add 192.0.2.1/24 dev pfc-s
    ip -n "$CLI" addr add 192.0.2.2/24 dev pfc-c
    for ns in "$SRV" "$CLI"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$SRV" link set pfc-s up
    ip -n "$CLI" link set pfc-c up
    # the link works: a TCP connect from the client side to a closed port is refused
    ip netns exec "$CLI" python3 -c 'import socket, sys
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("192.0.2.1", 9))
except ConnectionRefusedError:
    sys.exit(0)
except OSError as exc:
    sys.exit(f"veth link check failed: {exc}")'
    echo "up: $SRV 192.0.2.1 <-> $CLI 192.0.2.2"
}

down() {
    for ns in "$SRV" "$CLI"; do
        if ip netns list | grep -qw "$ns"; then
            ip netns del "$ns"
        fi
    done
    echo "down"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) ip netns list | grep -E "^($SRV|$CLI)\b" || echo "no namespaces" ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
