"""Bounds on what SMTP sessions may hold at once: the memory their DATA may take.

aiosmtpd keeps a message in memory while it arrives, up to data_size_limit. Without
a bound across sessions, 40 sessions that each send 20 MiB and never finish take
800 MiB (issue 16, item 6). Each DATA reserves the most it may hold before its 354,
so what the sessions hold together never passes the budget.
"""

from __future__ import annotations


class MemoryBudget:
    """Bytes the DATA phases in progress may hold together; used on the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0

    def reserve(self, size: int) -> bool:
        """Reserve `size` bytes if the budget has them; False (nothing reserved) if not."""
        if self.reserved + size > self.limit:
            return False
        self.reserved += size
        return True

    def release(self, size: int) -> None:
        self.reserved = max(0, self.reserved - size)
