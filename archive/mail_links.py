"""The archive's ways to join in by mail: "Reply by mail" on a message, "Reply to the
thread", a community's "Join" and "Post", a person's "Write to", as mailto: links.

Every link is built by gateway.outbound.mailto (RFC 6068, percent-encoding in one
place) and names the gateway's own addresses (SLUG@, SLUG-join@, SLUG-owner@:
gateway.mail.addresses), so that what a mail client sends is what the gateway acts
on: a reply carries In-Reply-To and References, and the gateway threads it under the
message answered (gateway.threads.rules).

A thread in several communities: the page is the same whichever community it is read
from, so a message's reply goes to the first of its own communities (lowest id, the
order the thread page lists them in) that still takes members' posts; a closed
community is read only, an announce one holds members' replies: neither gets a reply
link.
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.snapshot import MessageEntry
from archive.snapshot import SiteCommunity
from archive.snapshot import SitePerson
from gateway.mail.addresses import community_address
from gateway.outbound.mailto import mailto
from gateway.outbound.reply_links import reply_subject
from gateway.store.models import Policy


def reply_community(
    entry: MessageEntry, communities: dict[int, SiteCommunity]
) -> SiteCommunity | None:
    """The community a reply to this message goes to: its first that takes members'
    posts. A closed community takes none; an announce one holds members' replies
    (only its owners post: gateway.ingest's ANNOUNCE_ONLY), so a link to it would
    promise what the gateway does not do. None: the page shows no reply link."""
    for community_id in entry.communities:
        community = communities.get(community_id)
        if community is not None and takes_replies(community):
            return community
    return None


def takes_replies(community: SiteCommunity) -> bool:
    return not community.closed and community.policy != Policy.ANNOUNCE


def reply_link(
    entry: MessageEntry,
    root: MessageEntry,
    subject: str,
    communities: dict[int, SiteCommunity],
    domain: str,
    prefixes: Sequence[str] = (),
) -> str | None:
    """mailto: the message's community, "Re: <subject>", In-Reply-To the message and
    References its thread's first message then the message (the gateway threads by
    References first, and its last one is the parent). None when no community of
    the message takes posts, or the message has no Message-ID."""
    community = reply_community(entry, communities)
    if community is None or not entry.message_id:
        return None
    references = [f"<{m}>" for m in dict.fromkeys((root.message_id, entry.message_id)) if m]
    return mailto(
        community_address(community.slug, domain),
        subject=reply_subject(subject, tuple(prefixes)),
        **{"In-Reply-To": f"<{entry.message_id}>", "References": " ".join(references)},
    )


def community_actions(
    community: SiteCommunity, domain: str, join_subject: str
) -> dict[str, str | None]:
    """The community page's mail actions, as the gateway handles them: "join" (SLUG-join@,
    which answers with a confirmation to reply to; any subject, `join_subject` says
    what it is for), "post" (SLUG@), "owners" (SLUG-owner@, forwarded to its owners
    and moderators). A closed community takes no join and no post (join@ refuses with
    "closed"): its owners are who to ask. In an announce community only owners post."""
    owners = mailto(community_address(community.slug, domain, "owner"))
    if community.closed:
        return {"join": None, "post": None, "owners": owners}
    join = mailto(community_address(community.slug, domain, "join"), subject=join_subject)
    address = community_address(community.slug, domain)
    post = None if community.policy == Policy.ANNOUNCE else mailto(address)
    return {"join": join, "post": post, "owners": owners}


def write_to_link(person: SitePerson) -> str | None:
    """mailto: the person, unless they (or [archive] show_write_to) said no."""
    return mailto(person.address) if person.write_to else None
