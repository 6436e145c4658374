"""Who may see a message: the audience threading keeps every thread to one of.

The design (issue 16, item 2): a thread holds only messages of the same audience.
A message's audience is PUBLIC when one of its communities is public (the archive
shows it to everyone), else the set of its private communities (only their members
see it). Threading never links a message to a parent, a ghost sibling, a same
conversation or a same subject whose thread has another audience: a reply in a
public community to a private post starts its own thread (or joins the public
replies to the same post), and a late parent never absorbs replies of another
audience.

Why this rather than a public face computed per place: everything that reads a
thread (the archive's pages, feeds and search index, digests, the experts, stats
and suggestions of gateway.adoption, the members' copies) takes its title, first
message, participants and counts from the thread as stored. With one audience per
thread, whoever may see one message of a thread may see all of it, so none of these
readers can leak by mistake, including the ones written later. The cost: a private
reply to a public post is a thread of its own in the private community (mail
clients still thread it under the post, by its headers).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.store.models import Visibility

PUBLIC = "public"


def audience(communities: Iterable[tuple[int, Visibility]]) -> str:
    """The audience of a message in these communities (id, visibility): PUBLIC, or its
    private communities as "private:3,7"; "" for a message in no community."""
    private = set()
    for community_id, visibility in communities:
        if visibility is Visibility.PUBLIC:
            return PUBLIC
        private.add(community_id)
    return "private:" + ",".join(str(c) for c in sorted(private)) if private else ""
