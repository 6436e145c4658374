"""What a one-click link does, through the community services: leave a community, stop
mail from a digest's communities, or stop the monthly mail.

Each is idempotent: a person who already left (by mail, or by a first click), or
whose community is gone, is simply told it is done (RFC 8058: a second POST
succeeds too). Reading what a link would do (for the GET page) changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy.orm import Session

from gateway.adoption.monthly import set_monthly_mail
from gateway.community.members import MemberChanges
from gateway.community.members import find_membership
from gateway.community.members import remove_members
from gateway.community.members import set_member
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Person
from gateway.web.tokens import Stop
from gateway.web.tokens import Unsubscribe

log = logging.getLogger("gateway.web")


@dataclass(frozen=True)
class Described:
    """What a link is about, as its pages say it: the communities by slug and name."""

    stop: Stop
    communities: list[tuple[str, str]] = field(default_factory=list)


def describe(session: Session, request: Unsubscribe) -> Described:
    """The communities a request names that still exist (nothing is changed)."""
    return Described(
        request.stop, [(c.slug, c.name) for c in _communities(session, request.community_ids)]
    )


def unsubscribe(session: Session, request: Unsubscribe) -> Described:
    """Do what the request asks, in the caller's transaction; doing it twice is harmless."""
    described = describe(session, request)
    person = session.get(Person, request.person_id)
    if person is None:
        return described
    address = person.address
    changed = 0
    if request.stop is Stop.MONTHLY:
        changed = int(person.monthly_mail)
        set_monthly_mail(session, address, False)
    for community in _communities(session, request.community_ids):
        membership = find_membership(session, community, address)
        if membership is None:
            continue
        if request.stop is Stop.LEAVE:
            remove_members(session, community, [address])
            changed += 1
        elif request.stop is Stop.NOMAIL and membership.delivery is not DeliveryMode.NONE:
            set_member(session, community, address, MemberChanges(delivery=DeliveryMode.NONE))
            changed += 1
    log.info(
        "one-click unsubscribe: person %d %s %s (%d changed)",
        person.id,
        request.stop.value,
        ",".join(slug for slug, _ in described.communities) or "-",
        changed,
    )
    return described


def _communities(session: Session, ids: tuple[int, ...]) -> list[Community]:
    found = (session.get(Community, community_id) for community_id in ids)
    return [community for community in found if community is not None]
