"""Which posts go out From their author, and which From their community ([delivery]
dmarc_mitigation).

A copy of Alice's post relayed as it came is mail From alice@example.com sent by
servers example.com does not know: where example.com's DMARC policy asks receivers to
quarantine or reject such mail, they do, and members never see the post. Those
copies go out From "Alice via Design <design@domain>" with Reply-To Alice
(gateway.outbound.render). "auto" decides per author domain: a quarantine or reject
policy (gateway.mail.dmarc), a domain of dmarc_rewrite_domains (or a subdomain of
one), or a lookup that failed (a failure must not cost the post its delivery) mean
rewrite; "always" rewrites every post, "none" none. Mail the gateway writes itself
(From help@ and the like) is never rewritten: it is not a post.

The worker asks once per round, for all of the round's posts, before it renders:
the lookups run concurrently, each bounded by `[dns] timeout`.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from gateway.mail.addresses import domain_allowed
from gateway.mail.addresses import domain_of
from gateway.mail.dmarc import DmarcPolicies
from gateway.mail.dmarc import Policy
from gateway.outbound.deliveries import Claimed
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.sql import chunks

STRICT = (Policy.QUARANTINE, Policy.REJECT)


class FromRewriting:
    """Built once per worker: the DMARC caches live as long as it does."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.delivery.dmarc_mitigation
        self.listed = settings.delivery.dmarc_rewrite_domains
        self.policies = DmarcPolicies(settings.dns) if self.mode == "auto" else None

    async def for_posts(
        self, sessions: sessionmaker[Session], claimed: Sequence[Claimed]
    ) -> dict[int, bool]:
        """Message id -> whether its copies go out From the community, for every post
        among the claimed deliveries."""
        message_ids = sorted({c.message_id for c in claimed if c.message_id is not None})
        if not message_ids:  # a round of digests and notices
            return {}
        if self.mode != "auto":
            return dict.fromkeys(message_ids, self.mode == "always")
        authors: dict[int, str] = {}
        with transaction(sessions) as session:
            for chunk in chunks(message_ids):
                rows = session.execute(
                    select(Message.id, Message.sender_address).where(Message.id.in_(chunk))
                )
                authors.update({message_id: address for message_id, address in rows})
        rewrites = await self.for_authors(authors.values())
        return {message_id: rewrites[address] for message_id, address in authors.items()}

    async def for_authors(self, addresses: Iterable[str]) -> dict[str, bool]:
        """Author address -> whether their posts go out From the community."""
        addresses = set(addresses)
        if self.policies is None:  # not "auto"
            return dict.fromkeys(addresses, self.mode == "always")
        domains = {address: domain_of(address) for address in addresses if "@" in address}
        listed = {
            address for address in domains if self.listed and domain_allowed(address, self.listed)
        }
        answers = await self.policies.policies(
            domain for address, domain in domains.items() if address not in listed
        )
        decisions: dict[str, bool] = {}
        for address in addresses:
            if address in listed:
                decisions[address] = True
            elif address not in domains:  # no author address: no domain to protect
                decisions[address] = False
            else:
                answer = answers[domains[address]]
                decisions[address] = answer.failed or answer.policy in STRICT
        return decisions
