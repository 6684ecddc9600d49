"""The listening sockets of ``rivernet serve --workers N``: one per worker on Linux
(``SO_REUSEPORT``), so the kernel spreads connections evenly; another server is refused."""

from __future__ import annotations

import socket

import pytest

from rivernet.cli._options import CommandError
from rivernet.cli.serve import listen

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux/BSD only"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_each_worker_has_its_socket_and_connections_are_spread_over_them() -> None:
    port = _free_port()
    sockets = listen("127.0.0.1", port, count=3)
    clients = []
    try:
        assert len(sockets) == 3
        assert {s.getsockname()[1] for s in sockets} == {port}
        for _ in range(60):
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            clients.append(client)
        accepted = []
        for listening in sockets:
            listening.setblocking(False)
            count = 0
            while True:
                try:
                    connection, _ = listening.accept()
                except BlockingIOError:
                    break
                connection.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 60
        assert min(accepted) > 0, accepted  # one socket alone would take them all
    finally:
        for s in [*clients, *sockets]:
            s.close()


def test_a_second_server_on_the_port_is_refused() -> None:
    port = _free_port()
    sockets = listen("127.0.0.1", port, count=2)
    try:
        with pytest.raises(CommandError, match=str(port)):
            listen("127.0.0.1", port, count=2)
        with pytest.raises(CommandError, match=str(port)):
            listen("127.0.0.1", port)
    finally:
        for s in sockets:
            s.close()


def test_one_worker_has_one_plain_socket() -> None:
    port = _free_port()
    (only,) = listen("127.0.0.1", port)
    try:
        assert not only.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    finally:
        only.close()
