"""A connection pool that was closed keeps no connection: none outlives it unclosed."""

from __future__ import annotations

import socket

from wsgate.aws.http import ConnectionPool


def test_a_connection_given_back_after_close_is_closed() -> None:
    # A send still in flight when its Sender shuts down gives its connection back afterwards;
    # pooled then, nobody would close it again (the suite's intermittent "unclosed socket").
    with socket.create_server(("127.0.0.1", 0)) as server:
        pool = ConnectionPool()
        conn = pool.open(("http", "127.0.0.1", server.getsockname()[1]))
        accepted, _ = server.accept()
        with accepted:
            pool.close()  # while the connection is still in use
            pool.give_back([conn])
            assert pool.idle_count() == 0
            assert conn.sock.fileno() == -1  # closed, not kept


def test_before_close_connections_are_kept_for_reuse() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        pool = ConnectionPool()
        conn = pool.open(("http", "127.0.0.1", server.getsockname()[1]))
        accepted, _ = server.accept()
        with accepted:
            pool.give_back([conn])
            assert pool.idle_count() == 1
            pool.close()
            assert pool.idle_count() == 0 and conn.sock.fileno() == -1
