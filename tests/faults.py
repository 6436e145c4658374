"""Faults no real input can cause, for the tests of what happens when code fails."""

from __future__ import annotations

from gateway.ingest.context import IngestContext


class FailsOnBadSubject:
    """An ingest stage with a bug that shows on one mail only (subject "bad")."""

    @staticmethod
    def run(ctx: IngestContext) -> None:
        assert ctx.parsed is not None
        if ctx.parsed.subject == "bad":
            raise RuntimeError("a bug in a stage")


class FailingConnectionSet(set[object]):
    """The SMTP handler's set of open connections, with a bug that shows at connect."""

    def add(self, element: object) -> None:
        raise RuntimeError("a bug at connection time")
