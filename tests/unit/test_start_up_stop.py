"""A stop request during start-up is remembered, never raised (see bot.__main__._StartUpStop)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from bot.__main__ import _StartUpStop


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("restore_handlers")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_start_up_is_recorded_without_raising(sig: signal.Signals) -> None:
    # Raising SystemExit from the handler lost the stop when the signal landed inside a
    # finalizer (CI: "Exception ignored in: <function Group.__del__>", bot never stopped).
    stop = _StartUpStop()
    stop.install()
    assert not stop.requested
    os.kill(os.getpid(), sig)  # the handler runs before the next bytecode of this thread
    assert stop.requested


@pytest.mark.usefixtures("restore_handlers")
def test_a_finalizer_cannot_swallow_the_request() -> None:
    stop = _StartUpStop()
    stop.install()

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

    Finalized()  # deleted at once; the signal is handled inside __del__
    assert stop.requested
