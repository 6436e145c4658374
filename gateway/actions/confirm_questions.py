"""A reply to confirm+TOKEN@ that asks something instead of confirming: never lost, and
never taken for a yes.

A member's own requests (join, leave, delivery, profile, mute) are confirmed by a bare
reply. When the words the sender wrote (gateway.actions.text.own_text: quoted text and
signature left out) are not empty and do not start with a word that says yes (YES, in
English, French and German), the reply is a question: the request is NOT confirmed (its
token still works), the mail goes to the community's owners and moderators as a mail
to SLUG-owner@ would (Reply-To the sender), and the sender is told both, and how to
confirm. A request with no community (profile, mute of a thread) has no owners: the
sender is told how to reach those of their communities. A reply that starts with a yes
confirms as before; what follows the yes, unless mere courtesy ("Yes, thanks"), goes to
the owners too.

The staff's yes tokens (approving a held post, admitting someone) are the Reply-To of
their notices, so a moderator who answers "no, spam" must not publish it: they act only
on an empty reply or one that is just a yes or an approval word ("approve", "publier").
Anything else does nothing (the token still works), goes to the community's other
owners and moderators, and the writer is told how to approve or reject. A rejection's
text is its reason (gateway.actions.moderation), so a reject token acts whatever is
written.
"""

from __future__ import annotations

import re

from gateway.actions import moderation
from gateway.actions.context import ActionContext
from gateway.actions.owner import forward_to_staff
from gateway.actions.text import own_text
from gateway.community.communities import addresses
from gateway.community.members import communities_of
from gateway.store.models import Confirmation
from gateway.store.models import PendingAction

MEMBER_REQUESTS = frozenset(
    {
        PendingAction.JOIN,
        PendingAction.LEAVE,
        PendingAction.DELIVERY,
        PendingAction.PROFILE,
        PendingAction.MUTE,
        PendingAction.ANSWER,
    }
)
# Staff tokens that say yes to someone else's post or request.
STAFF_YES = frozenset({PendingAction.APPROVE, PendingAction.ADMIT})
# The words that say yes at the start of a reply, in English, French and German.
_YES_WORDS = (
    r"yes|yep|yeah|y|ok|okay|sure|agreed|confirm(?:ed)?|oui|d['’]accord|je confirme"
    r"|confirm[ée]|volontiers|ja|bestätigt|\+1|👍"
)
# And those a moderator or an owner approves with.
_APPROVE_WORDS = (
    r"approved?|approuv(?:er|[ée]e?|ez)|publish|publi(?:er|[ée]e?|ez)|accept(?:ed|er|[ée]e?|ez)?"
    r"|admit|admettre|admis|go|genehmigt|freigeben|akzeptiert|valid(?:er|[ée]e?|ez)|✅"
)
YES = re.compile(rf"^\s*(?:{_YES_WORDS})(?![\w'’])", re.IGNORECASE)
APPROVAL = re.compile(rf"^\s*(?:{_YES_WORDS}|{_APPROVE_WORDS})(?![\w'’])", re.IGNORECASE)
# What may follow a yes without being a question for the owners ("Yes, thanks").
COURTESY = frozenset(
    "thanks thank you thx ty please pls cheers much very lot a merci beaucoup bien svp stp "
    "s'il s’il vous plaît plait danke schön vielen dank bitte gerne".split()
)


def says_yes(text: str) -> bool:
    """Whether written words start with a yes ("Yes, please", "OK.", "Oui !")."""
    return YES.match(text) is not None


def after_yes(text: str) -> str:
    """What follows the yes a reply starts with ("" for "Yes, thanks" or "Oui merci")."""
    match = YES.match(text)
    return _beyond_courtesy(text[match.end() :]) if match is not None else ""


def approves(text: str) -> bool:
    """Whether a staff member's own words say only yes: empty, "approve", "OK, thanks"."""
    match = APPROVAL.match(text)
    return not text or (match is not None and not _beyond_courtesy(text[match.end() :]))


def _beyond_courtesy(rest: str) -> str:
    rest = rest.strip().lstrip(",.;:!-–— ").strip()
    words = re.findall(r"[\w'’]+", rest.lower())
    return "" if all(w in COURTESY for w in words) and "?" not in rest else rest


def handle(ctx: ActionContext, confirmation: Confirmation) -> bool:
    """Act on a reply that asks instead of confirming (True); False when it confirms and
    the caller goes on, having sent on what followed its yes. ctx.community is the
    token's."""
    if confirmation.action in STAFF_YES:
        return _staff_question(ctx, confirmation)
    if confirmation.action not in MEMBER_REQUESTS:
        return False
    text = own_text(ctx.mail.body_text)
    if not text:
        return False
    community = ctx.community
    if says_yes(text):
        if after_yes(text) and community is not None:
            forward_to_staff(ctx, community)
        return False
    forwarded = community is not None and forward_to_staff(ctx, community)
    ctx.answer(
        "action_confirm_question",
        {
            "community": ctx.community_values(community) if community is not None else None,
            "forwarded": forwarded,
            "confirm": ctx.confirm_address(confirmation.token),
            "owners": [
                addresses(c, ctx.domain)["owner"] for c in communities_of(ctx.session, ctx.sender)
            ],
            "help": ctx.address("help"),
        },
    )
    return True


def _staff_question(ctx: ActionContext, confirmation: Confirmation) -> bool:
    """A moderator's or owner's reply that says more than yes: nothing is approved."""
    if approves(own_text(ctx.mail.body_text)):
        return False
    community = ctx.community
    approving = confirmation.action is PendingAction.APPROVE
    if approving and not moderation.waits(ctx, confirmation):
        return False  # decided already: approve says so, and by whom it was
    reject = moderation.reject_token(ctx, confirmation) if approving else None
    forwarded = community is not None and forward_to_staff(ctx, community, ctx.sender)
    ctx.answer(
        "action_staff_question",
        {
            "community": ctx.community_values(community) if community is not None else None,
            "action": confirmation.action.value,
            "subject": moderation.held_subject(ctx, confirmation) if approving else "",
            "address": str(confirmation.payload.get("address", "")),
            "forwarded": forwarded,
            "confirm": ctx.confirm_address(confirmation.token),
            "reject": ctx.confirm_address(reject) if reject else "",
        },
    )
    return True
