"""Errors a user can cause and fix: the CLI prints their message as one line.

Anything else raised in the gateway is a bug and keeps its traceback.
"""

from __future__ import annotations


class GatewayError(Exception):
    """A request the gateway refuses; the message says what is wrong and how to fix it."""


class NotFound(GatewayError):
    """The community, person or membership named does not exist."""


class AlreadyExists(GatewayError):
    """Creating something that already exists (a slug, a membership)."""


class InvalidInput(GatewayError):
    """A value that cannot be used: a bad address, slug, time zone or CSV row."""


class CannotListen(GatewayError):
    """An address `gateway serve` cannot listen on (a port in use, an unknown host)."""
