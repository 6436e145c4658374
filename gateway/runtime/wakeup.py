"""A wake-up signal between `gateway serve` and its child processes that survives a crash.

multiprocessing.Event is not safe here: its set() waits for every process asleep
in wait() to acknowledge, so a child killed while waiting (the OOM killer, a
SIGKILL) makes the next set() hang forever, and with it the SMTP server that
calls it after each spooled mail. A pipe has no such handshake: set() writes a
byte without blocking (a full pipe already means "wake up"), wait() polls.
"""

from __future__ import annotations

import multiprocessing
import os


class PipeSignal:
    """set/clear/is_set/wait like threading.Event; picklable to spawned children."""

    def __init__(self) -> None:
        self._reader, self._writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
        os.set_blocking(self._writer.fileno(), False)
        os.set_blocking(self._reader.fileno(), False)

    def set(self) -> None:
        try:
            os.write(self._writer.fileno(), b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    def clear(self) -> None:
        try:
            while os.read(self._reader.fileno(), 4096):
                pass
        except BlockingIOError:
            pass

    def is_set(self) -> bool:
        return self._reader.poll(0)

    def wait(self, timeout: float | None = None) -> bool:
        return self._reader.poll(timeout)
