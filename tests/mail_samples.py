"""Values to render every kind of mail the gateway writes, in two variants built by the
same builders, so that a kind added to one is in the other:

- `sample(kind)`: short values, each branch that shows words taken at least once (with
  `long_sample`); the wording tests render them in English and French
  (tests/test_mail_wording.py);
- `long_sample(kind)`: long community names, long French words, long URLs and
  addresses, every optional section present; the HTML checks in Chromium
  (tests/test_mail_html.py) and docs/screenshots.py render them, the digest and a
  member's copy of a post too (`digest`, `notification`).

The values have the shapes the gateway's code gives them: communities come from
gateway.actions.context.community_values (a Community object, no database), the
monthly mails' from gateway/adoption/monthly_content.py, suggestions from
gateway.adoption.suggest.describe_suggestion; so a template that reads a value the
code does not give fails here too.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from gateway import links
from gateway.actions.context import community_values
from gateway.adoption.monthly_content import opt_out_link
from gateway.settings import Settings
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Kind
from gateway.store.models import Visibility

DOMAIN = "lists.example.com"
BASE_URL = "https://communities.example.com/archive/"
# Tuesday 1 December 2026, 05:00 UTC: 06:00 in Berlin and Paris, 00:00 in New York.
NOW = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)
MONTH_START = dt.date(2026, 11, 1)  # the monthly mails name a day, not a moment
LONG_NAME = "Conception de services numériques, accessibilité et recherche utilisateur"
LONG_SLUG = "conception-services-numeriques-accessibilite"
LONG_WORD = "anticonstitutionnellement-interdépartementalisation"
LONG_URL = (
    f"{BASE_URL}t/48213/la-refonte-du-parcours-de-souscription-en-ligne-"
    "pour-les-professionnels-independants-et-les-tres-petites-entreprises/"
)
TOKEN = "k3J9xQ2mZpL8vW4tR7yB1nC6dF0hG5sA"


def community(
    slug: str, name: str, description: str = "", *, public: bool = True
) -> dict[str, Any]:
    """A community as gateway.actions.context.community_values gives it to templates."""
    settings = Settings()
    settings = dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, domain=DOMAIN),
        archive=dataclasses.replace(settings.archive, base_url=BASE_URL),
    )
    row = Community(
        slug=slug,
        name=name,
        description=description,
        kind=Kind.PRACTICE,
        visibility=Visibility.PUBLIC if public else Visibility.PRIVATE,
        default_delivery=DeliveryMode.INSTANT,
    )
    return community_values(row, settings)


def monthly_community(values: dict[str, Any]) -> dict[str, Any]:
    """A community as the monthly mails have it (gateway.adoption.monthly_content)."""
    return {
        "name": values["name"],
        "slug": values["slug"],
        "address": values["address"],
        "url": values["archive_url"],
        "public": values["public"],
    }


def confirm(token: str) -> str:
    return f"confirm+{token}@{DOMAIN}"


def suggestion(slug: str, name: str, description: str, department: str) -> dict[str, Any]:
    """A suggested community (gateway.adoption.suggest.describe_suggestion)."""
    join = f"{slug}-join@{DOMAIN}"
    return {
        "slug": slug,
        "name": name,
        "description": description,
        "members": 42,
        "score": 3.5,
        "join": join,
        "join_link": f"mailto:{join}?subject=join",
        "reasons": [
            {"kind": "department", "label": department, "count": 12},
            {"kind": "expertise", "label": "HDS"},
        ],
    }


def figures(**changes: Any) -> dict[str, Any]:
    """A month's figures of a community (gateway.adoption.stats.describe_figures)."""
    return {
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
        **changes,
    }


@dataclass(frozen=True)
class Variant:
    """What tells the two variants apart; `samples` builds every kind from it."""

    community: dict[str, Any]
    other: dict[str, Any]  # a second community
    sender: str
    name: str  # the sender's
    subject: str
    thread_id: int
    thread_url: str
    token: str
    days: int
    reason: str  # a moderator's
    problem_line: str  # a profile line not understood
    profile: dict[str, Any]
    suggestion: dict[str, Any]
    figures: dict[str, Any]
    author: str  # of a question
    question: str
    # Kinds whose values take other branches than the variant's own values give.
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)


def samples(v: Variant) -> dict[str, dict[str, Any]]:
    """Every kind's values in variant `v`."""
    c = v.community
    held = {
        "community": c,
        "communities": [c["name"]],
        "held_in": [{"community": c, "reasons": ["not-member", "moderated"]}],
        "published_in": [v.other["name"]],
        "author": v.sender,
        "name": v.name,
        "subject": v.subject,
        "days": v.days,
    }
    reject = confirm("z" + v.token[1:])
    thread = {"subject": v.subject, "posts": 12, "url": v.thread_url}
    values: dict[str, dict[str, Any]] = {
        "action_admitted": {"address": v.sender, "already": False, "community": c},
        "action_already_member": {"community": c, "delivery": "daily", "sender": v.sender},
        "action_delivery": {
            "after": "daily",
            "before": "instant",
            "changed": True,
            "community": c,
            "sender": v.sender,
            "stopped": True,
            "undo": c["addresses"]["instant"],
        },
        "action_delivery_confirm": {
            "after": "daily",
            "before": "instant",
            "community": c,
            "confirm": confirm(v.token),
            "days": v.days,
            "sender": v.sender,
        },
        "action_held": {
            **held,
            "approve": confirm(v.token),
            "reject": reject,
            "approve_link": f"mailto:{confirm(v.token)}?subject=approve",
            "reject_link": f"mailto:{reject}?subject=reject",
        },
        "action_held_sender": held,
        "action_help": {
            "community": c,
            "help_address": f"help@{DOMAIN}",
            "profile_address": f"profile@{DOMAIN}",
            "kinds": [{"kind": "practice", "communities": [c, v.other]}],
        },
        "action_join_confirm": {
            "community": c,
            "confirm": confirm(v.token),
            "days": v.days,
            "sender": v.sender,
        },
        "action_join_pending": {"community": c},
        "action_join_request": {
            "address": v.sender,
            "community": c,
            "confirm": confirm(v.token),
            "days": v.days,
            "name": v.name,
        },
        "action_leave_confirm": {
            "community": c,
            "confirm": confirm(v.token),
            "days": v.days,
            "sender": v.sender,
        },
        "action_left": {"community": c, "sender": v.sender},
        "action_moderated": {"reason": v.reason, "result": "rejected", "subject": v.subject},
        "action_answer": {
            "author": v.name,
            "outcome": "accepted",
            "subject": v.subject,
            "url": v.thread_url,
        },
        "action_answer_confirm": {
            "author": v.name,
            "confirm": confirm(v.token),
            "days": v.days,
            "sender": v.sender,
            "subject": v.subject,
        },
        "action_mute": {
            "muted": True,
            "subject": v.subject,
            "undo": f"unmute+{v.thread_id}@{DOMAIN}",
            "url": v.thread_url,
        },
        "action_mute_confirm": {
            "confirm": confirm(v.token),
            "days": v.days,
            "muted": True,
            "sender": v.sender,
            "subject": v.subject,
        },
        "action_not_member": {"community": c, "sender": v.sender},
        "action_owner_forward": {
            "community": c,
            "name": v.name,
            "sender": v.sender,
            "subject": v.subject,
        },
        "action_profile": {
            "asked": False,
            "changed": False,
            "monthly": True,
            "more_problems": 0,
            "problems": [{"line": v.problem_line, "problem": "unknown"}],
            "profile": v.profile,
            "profile_address": f"profile@{DOMAIN}",
            "sender": v.sender,
            "write_to_default": True,
        },
        "action_profile_confirm": {
            "changes": {
                "name": v.profile["name"],
                "department": None,
                "expertise": v.profile["expertise"][:1],
                "interests": None,
                "bio": None,
                "timezone": v.profile["timezone"],
                "write_to": v.profile["write_to"],
            },
            "confirm": confirm(v.token),
            "days": v.days,
            "monthly": False,
            "more_problems": 0,
            "problems": [],
            "sender": v.sender,
        },
        "action_refused": {"community": c, "reason": "closed", "sender": v.sender},
        "action_rejected": {
            "communities": [c["name"], v.other["name"]],
            "reason": v.reason,
            "subject": v.subject,
        },
        "action_token": {"help": f"help@{DOMAIN}", "problem": "expired", "sender": v.sender},
        "action_confirm_question": {
            "community": None,
            "forwarded": False,
            "confirm": confirm(v.token),
            "owners": [c["addresses"]["owner"]],
            "help": f"help@{DOMAIN}",
        },
        "action_staff_question": {
            "community": c,
            "action": "approve",
            "subject": v.subject,
            "address": "",
            "forwarded": True,
            "confirm": confirm(v.token),
            "reject": confirm(v.token[::-1]),
        },
        "reply_not_posted": {
            "why": "notice",
            "subject": "Merci pour l’accueil",
            "threads": [],
            "communities": [c],
            "help_address": f"help@{DOMAIN}",
        },
        "action_welcome": {
            "community": c,
            "delivery": "daily",
            "profile_address": f"profile@{DOMAIN}",
            "profile_empty": True,
            "threads": [thread],
            "suggestions": [v.suggestion],
        },
        "bounce_disabled": {
            "address": v.sender,
            "community": c,
            "last_error": f"552 5.2.2 <{v.sender}>: mailbox full",
            "score": 5.0,
        },
        "digest": {
            "cadence": "daily",
            "community_names": [c["name"]],
            "message_count": 1,
            "thread_count": 1,
            "most_active": [
                {"subject": v.subject, "url": v.thread_url, "new_count": 1, "authors": ["Bob"]}
            ],
            "new_members": [{"name": "Erin", "community": c["name"], "expertise": ["UX"]}],
            "profile_address": f"profile@{DOMAIN}",
            "profile_empty": True,
            "questions": [
                {
                    "subject": v.question,
                    "url": "",
                    "author": v.author,
                    "matched": True,
                    "community": c["name"],
                    "excerpt": "Twelve or eight",
                    "asked_at": NOW - dt.timedelta(days=3),
                }
            ],
            "reader": {"name": v.profile["name"], "address": v.profile["email"]},
            "sections": [
                {
                    **c,
                    "url": c["archive_url"],
                    "threads": [{"text": f"* {v.subject}\n", "html": f"<p>{v.subject}</p>"}],
                    "actions": {
                        a: f"mailto:{c['addresses'][a]}"
                        for a in ("instant", "daily", "weekly", "nomail")
                    },
                }
            ],
            "since": NOW - dt.timedelta(days=1),
            "until": NOW,
        },
        "import_announce": {
            "archive_url": c["archive_url"],
            "community": c,
            "first": dt.datetime(2019, 3, 3, 9, 0, tzinfo=dt.UTC),
            "last": NOW,
            "imported": 1,
            "reports": [{"source": "old.mbox", "imported": 1, "duplicates": 1}],
        },
        "monthly_network": {
            "since": MONTH_START,
            "communities": [
                {
                    **monthly_community(c),
                    "posts": 1,
                    "threads": 0,
                    "new_members": 1,
                    "highlights": [thread],
                }
            ],
            "questions": [
                {
                    "subject": v.question,
                    "url": v.thread_url,
                    "author": v.author,
                    "community": c["name"],
                    "asked_at": NOW - dt.timedelta(days=3),
                }
            ],
            "suggestions": [v.suggestion],
            "profile_empty": True,
            "profile_address": f"profile@{DOMAIN}",
            "opt_out": opt_out_link(DOMAIN),
        },
        "monthly_report": {
            "since": MONTH_START,
            "community": monthly_community(c),
            "figures": v.figures,
            "advice": [
                {"kind": "waiting_questions", "count": 1, "days": 3},
                {"kind": "quiet"},
                {"kind": "few_posters", "count": 1, "members": 12},
                {"kind": "slow_replies", "hours": 30.4},
                {"kind": "profiles", "count": 2},
                {"kind": "bounces", "count": 1},
            ],
            "stats_url": f"{BASE_URL}stats/",
        },
    }
    for kind, changes in v.changes.items():
        values[kind] = {**values[kind], **changes}
    return values


DESIGN = community("design", "Design practice", "Product and graphic design", public=False)
PROFILE = {
    "email": "alice@example.com",
    "name": "Alice Martin",
    "department": "Security",
    "bio": "",
    "timezone": "Europe/Berlin",
    "expertise": ["HDS", "pentest"],
    "interests": [],
    "write_to": "default",
    "communities": [{"slug": "design", "name": "Design practice"}],
}
SHORT = Variant(
    community=DESIGN,
    other=community("atlas", "Atlas"),
    sender="bob@example.com",
    name="Bob",
    subject="Which grid",
    thread_id=7,
    thread_url=links.thread_url(BASE_URL, 7),
    token="abc",
    days=2,
    reason="Off topic",
    problem_line="Hobby : chess",
    profile=PROFILE,
    suggestion=suggestion("a11y", "Accessibility", "Everyone's web", "Security"),
    figures=figures(),
    author="Erin",
    question="Which grid",
)

_LONG = community(
    LONG_SLUG,
    LONG_NAME,
    f"Pour tous ceux qui conçoivent des services : {LONG_WORD}, "
    "ateliers, tests avec les usagers et retours d'expérience.",
)
_LONG_SENDER = "jean-baptiste.de-la-fontaine@filiale-internationale.example.com"
_LONG_SUBJECT = f"Refonte du parcours de souscription : {LONG_WORD} et suite des ateliers"
LONG = Variant(
    community=_LONG,
    other=community("design", "Design practice"),
    sender=_LONG_SENDER,
    name="Jean-Baptiste de La Fontaine",
    subject=_LONG_SUBJECT,
    thread_id=48213,
    thread_url=LONG_URL,
    token=TOKEN,
    days=7,
    reason=f"Merci de reformuler : {LONG_WORD}.\nLe lien est ici : {LONG_URL}",
    problem_line=f"Préférence : {LONG_WORD}",
    profile={
        "email": _LONG_SENDER,
        "name": "Jean-Baptiste de La Fontaine",
        "department": "Direction de la transformation numérique",
        "expertise": ["accessibility", "service design", LONG_WORD],
        "interests": ["typography", "cycling"],
        "bio": "Douze ans de conception de services publics numériques.",
        "timezone": "Europe/Paris",
        "write_to": "off",
        "communities": [
            {"slug": LONG_SLUG, "name": LONG_NAME},
            {"slug": "design", "name": "Design practice"},
        ],
    },
    suggestion=suggestion(
        "velo",
        "Vélo au travail",
        f"Échanges sur la {LONG_WORD} des équipes",
        "Direction de la transformation",
    ),
    figures=figures(
        members=128,
        new_members=9,
        posters=23,
        readers_only=105,
        posts=87,
        imported_posts=4,
        threads=19,
        reply_rate=0.84,
        median_first_reply_hours=5.5,
        questions=11,
        questions_answered=8,
        profiles_completed=40,
        mail_stopped=2,
        top_contributors=[
            {"name": "Marie-Hélène Durand-Lefebvre", "email": f"mh.durand@{DOMAIN}", "posts": 14},
            {"name": "", "email": "jean-baptiste.de-la-fontaine@filiale.example.com", "posts": 9},
        ],
    ),
    author="Marie-Hélène Durand-Lefebvre",
    question=f"Qui connaît la {LONG_WORD} ?",
    # The branches the short values leave out: every optional section present.
    changes={
        "action_help": {
            "kinds": [
                {"kind": "practice", "communities": [_LONG, community("design", "Design")]},
                {"kind": "interest", "communities": [community("velo", "Vélo au travail")]},
            ]
        },
        "action_profile": {"asked": True, "changed": True, "more_problems": 2},
        "action_refused": {"reason": "domain"},
        "action_confirm_question": {"community": _LONG, "forwarded": True},
        "action_staff_question": {
            "action": "admit",
            "subject": "",
            "address": "jean-baptiste.de-la-fontaine@filiale.example.com",
            "reject": "",
        },
        "reply_not_posted": {
            "why": "ambiguous",
            "subject": f"RE : {_LONG_SUBJECT}",  # French Outlook's marker
            "threads": [
                {
                    "subject": _LONG_SUBJECT,
                    "reply": f"mailto:{LONG_SLUG}@{DOMAIN}?subject=Re%3A%20Refonte"
                    "&In-Reply-To=%3Cm3%40example.com%3E",
                }
            ],
        },
        "import_announce": {
            "imported": 1245,
            "reports": [
                {"source": f"mbox/{LONG_SLUG}-2019-2025.mbox", "imported": 1200, "duplicates": 3},
                {"source": "pipermail", "imported": 45, "duplicates": 0},
            ],
        },
    },
)
_SHORT_SAMPLES = samples(SHORT)
_LONG_SAMPLES = samples(LONG)
# Kinds written by the Composer from a subject and a body; the others are pieces of a
# mail (a thread in a digest, a post's footer, a document's or large file's lines).
KINDS = sorted(_SHORT_SAMPLES)


def sample(kind: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of a kind's short values, some changed."""
    return {**copy.deepcopy(_SHORT_SAMPLES[kind]), **changes}


def long_sample(kind: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of a kind's long values, some changed."""
    return {**copy.deepcopy(_LONG_SAMPLES[kind]), **changes}


def picture(width: int = 1200, height: int = 800, seed: int = 0) -> bytes:
    """A photo-like JPEG (a gradient with a shape), as a member would attach one."""
    import io

    from PIL import Image
    from PIL import ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 4):
        shade = 80 + (y * 120 // height)
        draw.rectangle((0, y, width, y + 4), fill=(shade, 120 + seed * 40, 200 - shade // 2))
    draw.ellipse(
        (width // 4, height // 4, width // 2, height // 2), fill=(240, 200 - seed * 50, 60)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def digest(settings: Any, templates: Any, blobs: Any) -> Any:
    """A daily digest of two communities, one thread with attached pictures (stored in
    `blobs`) and a file that only claims to be an image: its Parts."""
    from gateway import links
    from gateway.digests.assemble import Digest
    from gateway.digests.assemble import Reader
    from gateway.digests.assemble import Section
    from gateway.digests.compose import DigestWriter
    from gateway.digests.news import CommunityRef
    from gateway.digests.news import Entry
    from gateway.digests.news import FileLink
    from gateway.digests.news import NewMember
    from gateway.digests.news import Question
    from gateway.digests.news import ThreadNews
    from gateway.store.models import Cadence

    base = settings.archive.base_url
    long_community = CommunityRef(1, LONG_SLUG, LONG_NAME, True)
    design = CommunityRef(2, "design", "Design practice", True)
    files = []
    for number, name in enumerate(("atelier-tableau-blanc.jpg", "maquette-parcours.jpg")):
        data = picture(seed=number)
        sha256 = blobs.put(data)
        files.append(
            FileLink(
                name, links.attachment_url(base, sha256, name), len(data), sha256, "image/jpeg"
            )
        )
    broken = blobs.put(b"\x89PNG\r\n\x1a\n not really a picture")
    files.append(
        FileLink(
            "capture.png",
            links.attachment_url(base, broken, "capture.png"),
            31,
            broken,
            "image/png",
        )
    )
    at = NOW - dt.timedelta(hours=5)
    subject = f"Refonte du parcours de souscription : {LONG_WORD} et suite des ateliers"
    workshop = ThreadNews(
        48213,
        subject,
        LONG_URL,
        [1, 2],
        [
            Entry(
                "Marie-Hélène Durand-Lefebvre",
                f"Voici les photos de l'atelier d'hier : {LONG_WORD}, "
                f"et le compte rendu suit. {LONG_URL}",
                at,
            ),
            Entry(
                "Hugo Lefèvre",
                "Merci ! Je reprends la maquette du parcours avec les retours des usagers.",
                at,
            ),
        ],
        files,
    )
    grids = ThreadNews(
        7,
        "Grid systems for long-form reading on small screens",
        f"{base}t/7/",
        [2],
        [Entry("Alice Martin", "Does anyone have measurements of line length on phones?", at)],
    )
    reader = Reader(
        1,
        "jean-baptiste@example.com",
        "Jean-Baptiste de La Fontaine",
        (1, 2),
        frozenset({"accessibility"}),
        True,
    )
    question = Question(
        9,
        f"Qui connaît la {LONG_WORD} ?",
        f"{base}t/9/",
        1,
        "Camille Roux",
        3,
        at - dt.timedelta(days=3),
        "Nous cherchons quelqu'un qui a déjà mené ce genre de projet.",
        " accessibility ",
    )
    writer = DigestWriter(settings, templates, blobs)
    writer.new_window({1: long_community, 2: design})
    value = Digest(
        reader=reader,
        cadence=Cadence.DAILY,
        period=NOW.strftime("%Y-%m-%d"),
        start=NOW - dt.timedelta(days=1),
        end=NOW,
        sections=[Section(long_community, [workshop]), Section(design, [grids])],
        most_active=[],
        questions=[(question, True)],
        new_members=[NewMember(5, "Zoé Nguyen", "zoe@example.com", 2, ("typography",))],
    )
    names = {1: LONG_NAME, 2: "Design practice"}
    return writer, value, names


def notification(settings: Any, templates: Any) -> bytes:
    """A member's copy of an HTML post in a community with a long name, cross-posted,
    with the footer."""
    from gateway.outbound.render import Destination
    from gateway.outbound.render import Post
    from gateway.outbound.render import Renderer

    html = (
        "<html><body><p>Bonjour à toutes et à tous,</p>"
        f'<p>Le compte rendu de l\'atelier est en ligne : <a href="{LONG_URL}">{LONG_URL}</a>. '
        f"Nous avons surtout parlé de {LONG_WORD} et des parcours des indépendants.</p>"
        "<p>Marie-Hélène</p></body></html>"
    )
    text = f"Bonjour à toutes et à tous,\n\nLe compte rendu : {LONG_URL}\n\nMarie-Hélène\n"
    raw = (
        "From: Marie-Hélène Durand-Lefebvre <mh.durand@example.com>\r\n"
        f"Subject: Compte rendu de l'atelier du 25 novembre\r\n"
        "Message-ID: <atelier-25@example.com>\r\n"
        "Date: Wed, 25 Nov 2026 16:02:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        '--b\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{text}\r\n"
        '--b\r\nContent-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{html}\r\n--b--\r\n"
    ).encode()
    post = Post(
        raw=raw,
        message_id="atelier-25@example.com",
        subject="Compte rendu de l'atelier du 25 novembre",
        sender_name="Marie-Hélène Durand-Lefebvre",
        sender_address="mh.durand@example.com",
        thread_id=48213,
        received_at=NOW,
        attachment_names={},
    )
    to = Destination(
        slug=LONG_SLUG,
        name=LONG_NAME,
        subject_prefix="[conception]",
        reply_to="community",
        public=True,
        also=(("design", "Design practice"),),
    )
    return Renderer(settings, templates).render(post, to)
