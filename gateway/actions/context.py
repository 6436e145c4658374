"""What every action gets: the mail, who sent it, its community, and the way to answer.

Answers go to the sender, rate-limited per address and hour ([actions]
replies_per_hour); notices to owners and moderators are not limited (they are
not answers to whoever wrote).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import links
from gateway.blobs import BlobStore
from gateway.community.communities import addresses
from gateway.mail.parse import ParsedMessage
from gateway.outbound.composer import send_notice
from gateway.settings import Settings
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.models import Visibility

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("gateway.actions")

ANSWERED = "answered"
LIMITED = "limited"
HOUR = dt.timedelta(hours=1)


@dataclass
class ActionContext:
    session: Session
    blobs: BlobStore
    templates: jinja2.Environment
    settings: Settings
    now: dt.datetime
    row: ActionMail
    mail: ParsedMessage
    sender: str  # canonical address of who wrote
    community: Community | None
    outcome: str = "done"

    @property
    def domain(self) -> str:
        return self.settings.gateway.domain

    def address(self, local: str) -> str:
        return f"{local}@{self.domain}"

    def confirm_address(self, token: str) -> str:
        return self.address(f"confirm+{token}")

    def known_community(self) -> Community | None:
        """The community the action address names; when there is none (removed since),
        the sender is told so and None is returned."""
        if self.community is None:
            self.answer("action_refused", {"reason": "unknown", "community": None})
        return self.community

    def community_values(self, community: Community | None = None) -> dict[str, Any]:
        """A community as the templates show it: name, description, its addresses."""
        community = community or self.community
        assert community is not None
        return community_values(community, self.settings)

    def answer(self, key: str, values: dict[str, Any], **options: Any) -> bool:
        """Answer the sender, unless they had their share of answers this hour."""
        if self.answers_this_hour() >= self.settings.actions.replies_per_hour:
            log.warning(
                "action message-id=<%s> from=%s: no answer, %d already this hour",
                self.row.message_id,
                self.sender,
                self.settings.actions.replies_per_hour,
            )
            self.outcome = LIMITED
            return False
        send_notice(
            self.session,
            self.templates,
            self.settings,
            key,
            self.sender,
            {"sender": self.sender, **values},
            self.now,
            in_reply_to=self.row.message_id,
            **options,
        )
        self.outcome = ANSWERED
        return True

    def notify(self, key: str, to: str, values: dict[str, Any], **options: Any) -> None:
        """A notice to someone else than the sender (owners, moderators, an author)."""
        send_notice(
            self.session, self.templates, self.settings, key, to, values, self.now, **options
        )

    def answers_this_hour(self) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(ActionMail)
                .where(
                    ActionMail.sender == self.sender,
                    ActionMail.outcome == ANSWERED,
                    ActionMail.handled_at >= self.now - HOUR,
                )
            )
            or 0
        )


def community_values(community: Community, settings: Settings) -> dict[str, Any]:
    public = community.visibility is Visibility.PUBLIC
    return {
        "slug": community.slug,
        "name": community.name,
        "description": community.description,
        "kind": community.kind.value,
        "public": public,
        "address": f"{community.slug}@{settings.gateway.domain}",
        "addresses": addresses(community, settings.gateway.domain),
        # Private communities have no public archive.
        "archive_url": links.community_url(settings.archive.base_url, community.slug)
        if public
        else "",
        "default_delivery": community.default_delivery.value,
    }
