"""The display names of the gateway's own mail, in From: what the mail is, before it is
opened ("Design practice digest", "Design practice moderators"); the address stays
the one replies and filters know.

Kept here, per language, rather than in the templates: a display name is one short
phrase, and the composer needs it before any template is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

_DIGEST = {"en": "{} digest", "fr": "Résumé {}"}
_MODERATORS = {"en": "{} moderators", "fr": "Modération {}"}
# Notices to a community's moderators and owners about that community.
MODERATOR_KINDS = frozenset({"action_held", "action_join_request", "bounce_disabled"})


def digest_name(language: str, gateway_name: str, community_names: Sequence[str]) -> str:
    """A digest of one community is named after it; of several, after the gateway."""
    subject = community_names[0] if len(community_names) == 1 else gateway_name
    return _DIGEST.get(language, _DIGEST["en"]).format(subject)


def moderators_name(language: str, community_name: str) -> str:
    return _MODERATORS.get(language, _MODERATORS["en"]).format(community_name)


def notice_name(language: str, gateway_name: str, kind: str, values: Mapping[str, Any]) -> str:
    """A notice's sender: the community's moderators for theirs, else the gateway."""
    community = values.get("community")
    if kind in MODERATOR_KINDS and isinstance(community, Mapping) and community.get("name"):
        return moderators_name(language, str(community["name"]))
    return gateway_name
