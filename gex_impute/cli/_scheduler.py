"""``--scheduler``: connect to a dask.distributed scheduler within a deadline, or say why not."""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("gex_impute")

#: seconds to wait for a scheduler to answer
CONNECT_TIMEOUT = 30.0


def connect(address: str, timeout: float | None = None) -> Any:
    """Return a ``distributed.Client`` of the scheduler at ``address``.

    dask's own ``timeout`` does not bound the handshake: a port that is no dask scheduler (its
    dashboard, 8787, or another service) can hang it for ever, or make it read a reply as a
    frame length (``MemoryError``). The client is built in a helper thread joined with a deadline.

    Raises
    ------
    ConnectionError
        Nothing answered as a dask scheduler at ``address`` within ``timeout`` seconds
        (default :data:`CONNECT_TIMEOUT`), or the connection failed; the message names the
        address.
    """
    from distributed import Client

    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    logger.info("connecting to the dask scheduler at %s (up to %.0f s)", address, timeout)
    result: dict[str, Any] = {}

    def build() -> None:
        try:
            result["client"] = Client(address, timeout=timeout)
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            result["error"] = err

    thread = threading.Thread(target=build, name="gex-impute-connect", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    hint = "the scheduler listens on port 8786 by default (8787 is its dashboard)"
    if thread.is_alive():
        msg = f"no dask scheduler answered at {address} within {timeout:.0f} s; check the address: {hint}."
        raise ConnectionError(msg)
    if "error" in result:
        err = result["error"]
        detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        msg = f"cannot connect to a dask scheduler at {address} ({detail}); check the address: {hint}."
        raise ConnectionError(msg) from err
    return result["client"]
