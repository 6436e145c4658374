"""Confirmation tokens (confirm+TOKEN@): random, single-use, bound to one action and one
address, and short-lived ([actions] token_days).

Tokens are lowercase base32: mail addresses are compared without case (the SMTP
edge lowercases them), so a token with capitals would not survive the round trip.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.settings import Settings
from gateway.store.models import Confirmation
from gateway.store.models import PendingAction

TOKEN_BYTES = 20  # 160 random bits, 32 characters


class TokenProblem(enum.StrEnum):
    """Why a token changes nothing; each is explained by the action_token template."""

    UNKNOWN = "unknown"  # never issued (mistyped or forged)
    USED = "used"
    EXPIRED = "expired"
    OTHER_PERSON = "other-person"  # issued to another address


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii").lower()


def issue(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    action: PendingAction,
    address: str,
    community_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> str:
    """A new token for `address` to confirm `action`; returns it."""
    token = new_token()
    session.add(
        Confirmation(
            token=token,
            action=action,
            address=address,
            community_id=community_id,
            payload=payload or {},
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.actions.token_days),
        )
    )
    session.flush()
    return token


def check(
    session: Session, token: str, address: str, now: dt.datetime
) -> Confirmation | TokenProblem:
    """The confirmation `address` may use now, or why it cannot; changes nothing. Its row
    is locked until the transaction ends: the same token in two mails at once (a reply
    sent twice) is used by one of them, and the other finds it used."""
    confirmation = (
        session.scalar(select(Confirmation).where(Confirmation.token == token).with_for_update())
        if token
        else None
    )
    if confirmation is None:
        return TokenProblem.UNKNOWN
    if confirmation.address != address:
        return TokenProblem.OTHER_PERSON
    if confirmation.used_at is not None:
        return TokenProblem.USED
    if confirmation.expires_at <= now:
        return TokenProblem.EXPIRED
    return confirmation


def redeem(
    session: Session, token: str, address: str, now: dt.datetime
) -> Confirmation | TokenProblem:
    """The confirmation, now used, or why it cannot be: nothing changes then."""
    result = check(session, token, address, now)
    if isinstance(result, Confirmation):
        result.used_at = now
    return result
