"""Values to render every kind of mail the gateway writes, each branch that shows words
taken at least once: the wording tests render them in English and French."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

DOMAIN = "lists.example.com"
# Tuesday 1 December 2026, 05:00 UTC: 06:00 in Berlin and Paris, 00:00 in New York.
MOMENT = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)


def _addresses(slug: str) -> dict[str, str]:
    actions = ("post", "instant", "daily", "weekly", "nomail", "leave", "owner", "join", "help")
    return {
        action: f"{slug}@{DOMAIN}" if action == "post" else f"{slug}-{action}@{DOMAIN}"
        for action in actions
    }


COMMUNITY = {
    "name": "Design practice",
    "slug": "design",
    "address": f"design@{DOMAIN}",
    "description": "Product and graphic design",
    "archive_url": "https://archive.example.com/c/design/",
    "public": False,
    "addresses": _addresses("design"),
}
PROFILE = {
    "email": "alice@example.com",
    "name": "Alice Martin",
    "department": "Security",
    "bio": "",
    "timezone": "Europe/Berlin",
    "expertise": ["HDS", "pentest"],
    "interests": [],
    "communities": [{"slug": "design", "name": "Design practice"}],
}
THREAD = {
    "subject": "Which grid",
    "url": "https://archive.example.com/t/7/",
    "new_count": 1,
    "authors": ["Bob"],
}
REASON = {"kind": "department", "label": "Security", "count": 1}
SUGGESTION = {
    "name": "Accessibility",
    "description": "Everyone's web",
    "join_link": f"mailto:a11y-join@{DOMAIN}?subject=join",
    "reasons": [REASON, {"kind": "expertise", "label": "HDS"}],
}
FIGURES = {
    "members": 1,
    "new_members": 0,
    "posters": 1,
    "readers_only": 0,
    "posts": 0,
    "imported_posts": 0,
    "threads": 2,
    "reply_rate": 0.5,
    "median_first_reply_hours": 1.6,
    "questions": 2,
    "questions_answered": 1,
    "profiles_completed": 1,
    "mail_stopped": 0,
    "top_contributors": [{"name": "Bob", "email": "bob@example.com", "posts": 1}],
}
ADVICE = [
    {"kind": "waiting_questions", "count": 1, "days": 3},
    {"kind": "quiet"},
    {"kind": "few_posters", "count": 1, "members": 12},
    {"kind": "slow_replies", "hours": 30.4},
    {"kind": "profiles", "count": 2},
    {"kind": "bounces", "count": 1},
]

SAMPLES: dict[str, dict[str, Any]] = {
    "action_admitted": {"address": "bob@example.com", "already": False, "community": COMMUNITY},
    "action_already_member": {
        "community": COMMUNITY,
        "delivery": "daily",
        "sender": "bob@example.com",
    },
    "action_delivery": {
        "after": "daily",
        "before": "instant",
        "changed": True,
        "community": COMMUNITY,
        "sender": "bob@example.com",
        "stopped": True,
        "undo": f"design-instant@{DOMAIN}",
    },
    "action_delivery_confirm": {
        "after": "daily",
        "before": "instant",
        "community": COMMUNITY,
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 1,
        "sender": "bob@example.com",
    },
    "action_held": {
        "approve": f"approve+abc@{DOMAIN}",
        "reject": f"reject+abc@{DOMAIN}",
        "author": "bob@example.com",
        "name": "Bob",
        "community": COMMUNITY,
        "days": 7,
        "held_in": [{"community": COMMUNITY, "reasons": ["moderated"]}],
        "id": 353,
        "subject": "Hello",
        "published_in": ["Atlas"],
        "approve_link": f"mailto:approve+abc@{DOMAIN}?subject=approve",
        "reject_link": f"mailto:reject+abc@{DOMAIN}?subject=reject",
    },
    "action_held_sender": {
        "communities": ["Design practice"],
        "community": COMMUNITY,
        "held_in": [{"community": COMMUNITY, "reasons": ["not-member"]}],
        "subject": "Hello",
        "published_in": ["Atlas"],
    },
    "action_help": {
        "community": COMMUNITY,
        "help_address": f"help@{DOMAIN}",
        "profile_address": f"profile@{DOMAIN}",
        "kinds": [{"kind": "practice", "communities": [COMMUNITY]}],
    },
    "action_join_confirm": {
        "community": COMMUNITY,
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 2,
        "sender": "bob@example.com",
    },
    "action_join_pending": {"community": COMMUNITY},
    "action_join_request": {
        "address": "bob@example.com",
        "community": COMMUNITY,
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 2,
        "name": "Bob",
    },
    "action_leave_confirm": {
        "community": COMMUNITY,
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 2,
        "sender": "bob@example.com",
    },
    "action_left": {"community": COMMUNITY, "sender": "bob@example.com"},
    "action_moderated": {"reason": "Off topic", "result": "rejected", "subject": "Hello"},
    "action_mute": {
        "muted": True,
        "subject": "Which grid",
        "undo": f"unmute+7@{DOMAIN}",
        "url": "https://archive.example.com/t/7/",
    },
    "action_mute_confirm": {
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 2,
        "muted": True,
        "sender": "bob@example.com",
        "subject": "Which grid",
    },
    "action_not_member": {"community": COMMUNITY, "sender": "bob@example.com"},
    "action_owner_forward": {
        "community": COMMUNITY,
        "name": "Bob",
        "sender": "bob@example.com",
        "subject": "A question",
    },
    "action_profile": {
        "asked": False,
        "changed": False,
        "monthly": True,
        "more_problems": 0,
        "problems": [{"line": "Hobby : chess", "problem": "unknown"}],
        "profile": PROFILE,
        "profile_address": f"profile@{DOMAIN}",
        "sender": "alice@example.com",
    },
    "action_profile_confirm": {
        "changes": {
            "name": "Alice",
            "department": None,
            "expertise": ["HDS"],
            "interests": None,
            "bio": None,
            "timezone": "Europe/Berlin",
        },
        "confirm": f"confirm+abc@{DOMAIN}",
        "days": 2,
        "monthly": False,
        "more_problems": 0,
        "problems": [],
        "sender": "alice@example.com",
    },
    "action_refused": {"community": COMMUNITY, "reason": "closed", "sender": "bob@example.com"},
    "action_rejected": {"communities": ["Design practice"], "reason": "Off topic", "subject": "Hi"},
    "action_token": {"help": f"help@{DOMAIN}", "problem": "expired", "sender": "bob@example.com"},
    "action_confirm_question": {
        "community": None,
        "forwarded": False,
        "confirm": f"confirm+abc@{DOMAIN}",
        "owners": [f"design-owner@{DOMAIN}"],
        "help": f"help@{DOMAIN}",
    },
    "action_staff_question": {
        "community": COMMUNITY,
        "action": "approve",
        "subject": "Hello",
        "address": "",
        "forwarded": True,
        "confirm": f"confirm+abc@{DOMAIN}",
        "reject": f"confirm+def@{DOMAIN}",
    },
    "reply_not_posted": {
        "why": "notice",
        "subject": "Merci pour l’accueil",
        "threads": [],
        "communities": [COMMUNITY],
        "help_address": f"help@{DOMAIN}",
    },
    "action_welcome": {
        "community": COMMUNITY,
        "delivery": "daily",
        "profile_address": f"profile@{DOMAIN}",
        "profile_empty": True,
        "suggestions": [{**SUGGESTION, "join_link": f"mailto:a11y-join@{DOMAIN}"}],
        "threads": [{"subject": "Which grid", "posts": 1, "url": ""}],
    },
    "bounce_disabled": {
        "address": "bob@example.com",
        "community": COMMUNITY,
        "last_error": "552 5.2.2 mailbox full",
        "score": 5,
    },
    "digest": {
        "cadence": "daily",
        "community_names": ["Design practice"],
        "message_count": 1,
        "thread_count": 1,
        "most_active": [THREAD],
        "new_members": [{"name": "Erin", "community": "Design practice", "expertise": ["UX"]}],
        "profile_address": f"profile@{DOMAIN}",
        "profile_empty": True,
        "questions": [
            {
                "subject": "Which grid",
                "url": "",
                "author": "Erin",
                "matched": True,
                "community": "Design practice",
                "excerpt": "Twelve or eight",
                "asked_at": MOMENT - dt.timedelta(days=3),
            }
        ],
        "reader": {"name": "Alice", "address": "alice@example.com"},
        "sections": [
            {
                **COMMUNITY,
                "url": "",
                "threads": [{"text": "* Which grid\n", "html": "<p>Which grid</p>"}],
                "actions": {
                    a: f"mailto:design-{a}@{DOMAIN}"
                    for a in ("instant", "daily", "weekly", "nomail")
                },
            }
        ],  # fmt: skip
        "since": MOMENT - dt.timedelta(days=1),
        "until": MOMENT,
    },
    "import_announce": {
        "archive_url": "https://archive.example.com/c/design/",
        "community": COMMUNITY,
        "first": dt.datetime(2019, 3, 3, 9, 0, tzinfo=dt.UTC),
        "last": MOMENT,
        "imported": 1,
        "reports": [{"source": "old.mbox", "imported": 1, "duplicates": 1}],
    },
    "monthly_network": {
        "communities": [
            {
                **COMMUNITY,
                "posts": 1,
                "threads": 0,
                "new_members": 1,
                "highlights": [{"subject": "Which grid", "posts": 1, "url": ""}],
            }
        ],
        "opt_out": f"mailto:profile@{DOMAIN}?subject=monthly%20off",
        "profile_address": f"profile@{DOMAIN}",
        "profile_empty": True,
        "questions": [
            {"subject": "Which grid", "author": "Erin", "community": "Design", "url": ""}
        ],
        "suggestions": [SUGGESTION],
        "since": MOMENT - dt.timedelta(days=30),
    },
    "monthly_report": {
        "advice": ADVICE,
        "community": COMMUNITY,
        "figures": FIGURES,
        "since": MOMENT - dt.timedelta(days=30),
        "stats_url": "https://archive.example.com/stats/",
    },
}
# Kinds written by the Composer from a subject and a body; the others are pieces of a
# mail (a thread in a digest, a post's footer, a document's or large file's lines).
KINDS = sorted(SAMPLES)


def sample(kind: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of a kind's values, some changed."""
    return {**copy.deepcopy(SAMPLES[kind]), **changes}
