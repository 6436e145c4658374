"""A loop that runs beside the SMTP server: in a thread (tests, small sites) or as the
body of a child process of `gateway serve`, woken by a signal and stopped by another."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class Signal(Protocol):
    """A threading.Event, or a gateway.runtime.wakeup.PipeSignal between processes."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class BackgroundLoop:
    """Subclasses implement run(alive); it must return soon after `_stopping` is set."""

    def __init__(self, name: str, wake: Signal | None, stopping: Signal | None) -> None:
        self._wake: Signal = wake or threading.Event()
        self._stopping: Signal = stopping or threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Run in a thread of this process."""
        self._thread.start()

    def wake(self) -> None:
        """There is work (new mail, new deliveries)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the batch in hand; what is left waits, durably, for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
