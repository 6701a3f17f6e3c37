"""``--scheduler``: a port that is no dask scheduler gives one clear line within a deadline (sweep Q)."""

from __future__ import annotations

import socket
import threading

import pytest

from gex_impute.cli import _scheduler, main

pytest.importorskip("distributed")


@pytest.fixture
def server():
    """A TCP port that is no dask scheduler: ``reply`` None accepts and stays silent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    state = {"reply": None, "conns": []}

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            state["conns"].append(conn)
            if state["reply"] is not None:
                conn.sendall(state["reply"])

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}", state
    for conn in state["conns"]:
        conn.close()
    listener.close()


def test_a_silent_port_is_named_within_the_deadline(server):
    address, _ = server
    with pytest.raises(ConnectionError, match=f"no dask scheduler answered at {address} within 1 s.*8786"):
        _scheduler.connect(address, timeout=1)


def test_another_service_is_no_internal_error(server, sim_file, tmp_path, capsys, monkeypatch):
    """A reply read as a frame length was 'internal error (MemoryError: 3.07 EiB)'."""
    address, state = server
    state["reply"] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    monkeypatch.setattr(_scheduler, "CONNECT_TIMEOUT", 2.0)
    out = tmp_path / "out.h5ad"
    assert main(["complete", str(sim_file), "-o", str(out), "--method", "mean", "--scheduler", address]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("gex-impute: error: ") and address in err and "internal error" not in err
    assert not out.exists()


def test_a_scheduler_is_used_and_named(client, sim_file, tmp_path, capsys):
    out = tmp_path / "out.h5ad"
    address = client.scheduler.address
    assert main(["complete", str(sim_file), "-o", str(out), "--method", "mean", "--scheduler", address]) == 0
    err = capsys.readouterr().err
    assert f"connecting to the dask scheduler at {address}" in err
    assert "dask: 2 workers" in err and out.exists()
