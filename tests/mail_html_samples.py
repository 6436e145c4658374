"""Realistic values for every kind of mail the gateway writes, to render each one whole:
long community names, long French words, long URLs and addresses, every optional
section present. Used by the HTML checks in Chromium (tests/test_mail_html.py) and
by docs/screenshots.py.

The values have the shapes the gateway's code gives them (gateway/actions/context.py
community_values, gateway/adoption/monthly_content.py, ...), so that a template
that reads a value the code does not give fails here too; a few are there for the
templates of the other parts of issue 18 (held notices' `published_in`, one-click
links and the sender's `community`, the monthly mails' `since`), unused by these.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

DOMAIN = "lists.example.com"
BASE_URL = "https://communities.example.com/archive/"
LONG_NAME = "Conception de services numériques, accessibilité et recherche utilisateur"
LONG_SLUG = "conception-services-numeriques-accessibilite"
LONG_WORD = "anticonstitutionnellement-interdépartementalisation"
LONG_URL = (
    f"{BASE_URL}t/48213/la-refonte-du-parcours-de-souscription-en-ligne-"
    "pour-les-professionnels-independants-et-les-tres-petites-entreprises/"
)
TOKEN = "k3J9xQ2mZpL8vW4tR7yB1nC6dF0hG5sA"
NOW = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
MONTH_START = dt.date(2026, 11, 1)  # the monthly mails name a day, not a moment
ACTIONS = ("join", "leave", "instant", "daily", "weekly", "nomail", "owner", "help")


def community(slug: str = LONG_SLUG, name: str = LONG_NAME) -> dict[str, Any]:
    addresses = {"post": f"{slug}@{DOMAIN}"}
    addresses.update({action: f"{slug}-{action}@{DOMAIN}" for action in ACTIONS})
    return {
        "slug": slug,
        "name": name,
        "description": (
            f"Pour tous ceux qui conçoivent des services : {LONG_WORD}, "
            "ateliers, tests avec les usagers et retours d'expérience."
        ),
        "kind": "practice",
        "public": True,
        "address": f"{slug}@{DOMAIN}",
        "addresses": addresses,
        "archive_url": f"{BASE_URL}c/{slug}/",
        "default_delivery": "instant",
        "url": f"{BASE_URL}c/{slug}/",
    }


def confirm() -> str:
    return f"confirm+{TOKEN}@{DOMAIN}"


def _suggestion(slug: str, name: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "description": f"Échanges sur la {LONG_WORD} des équipes",
        "members": 42,
        "score": 3.5,
        "join": f"{slug}-join@{DOMAIN}",
        "join_link": f"mailto:{slug}-join@{DOMAIN}?subject=join",
        "reasons": [
            {"kind": "department", "label": "Direction de la transformation", "count": 12},
            {"kind": "expertise", "label": "accessibility"},
        ],
    }


def _problems() -> list[dict[str, str]]:
    return [{"line": f"Favourite: {LONG_WORD}", "problem": "unknown"}]


def _figures() -> dict[str, Any]:
    return {
        "members": 128,
        "new_members": 9,
        "posters": 23,
        "readers_only": 105,
        "posts": 87,
        "imported_posts": 4,
        "threads": 19,
        "reply_rate": 0.84,
        "median_first_reply_hours": 5.5,
        "questions": 11,
        "questions_answered": 8,
        "profiles_completed": 40,
        "mail_stopped": 2,
        "top_contributors": [
            {"name": "Marie-Hélène Durand-Lefebvre", "email": f"mh.durand@{DOMAIN}", "posts": 14},
            {"name": "", "email": "jean-baptiste.de-la-fontaine@filiale.example.com", "posts": 9},
        ],
    }


def values(kind: str) -> dict[str, Any]:
    """The values of one kind of mail, as its caller gives them (the domain aside)."""
    c = community()
    held_in = [{"community": c, "reasons": ["not-member", "moderated"]}]
    sender = "jean-baptiste.de-la-fontaine@filiale-internationale.example.com"
    subject = f"Refonte du parcours de souscription : {LONG_WORD} et suite des ateliers"
    samples: dict[str, dict[str, Any]] = {
        "action_admitted": {"address": sender, "already": False, "community": c},
        "action_already_member": {"community": c, "delivery": "daily", "sender": sender},
        "action_delivery": {
            "after": "weekly",
            "before": "instant",
            "changed": True,
            "community": c,
            "sender": sender,
            "stopped": True,
            "undo": f"{c['slug']}-instant@{DOMAIN}",
        },
        "action_delivery_confirm": {
            "after": "weekly",
            "before": "instant",
            "community": c,
            "confirm": confirm(),
            "days": 7,
            "sender": sender,
        },
        "action_held": {
            "approve": confirm(),
            "reject": f"confirm+z{TOKEN[1:]}@{DOMAIN}",
            "author": sender,
            "name": "Jean-Baptiste de La Fontaine",
            "community": c,
            "days": 7,
            "held_in": held_in,
            "id": 353,
            "subject": subject,
            "published_in": ["Design practice"],
            "approve_link": f"mailto:{confirm()}?subject=approve",
            "reject_link": f"mailto:confirm+z{TOKEN[1:]}@{DOMAIN}?subject=reject",
        },
        "action_held_sender": {
            "communities": [c["name"]],
            "community": c,
            "held_in": held_in,
            "subject": subject,
            "published_in": ["Design practice"],
        },
        "action_help": {
            "community": c,
            "help_address": f"help@{DOMAIN}",
            "profile_address": f"profile@{DOMAIN}",
            "kinds": [
                {
                    "kind": "practice",
                    "communities": [c, community("design", "Design practice")],
                },
                {"kind": "interest", "communities": [community("velo", "Vélo au travail")]},
            ],
        },
        "action_join_confirm": {"community": c, "confirm": confirm(), "days": 7, "sender": sender},
        "action_join_pending": {"community": c},
        "action_join_request": {
            "address": sender,
            "community": c,
            "confirm": confirm(),
            "days": 7,
            "name": "Jean-Baptiste de La Fontaine",
        },
        "action_leave_confirm": {"community": c, "confirm": confirm(), "days": 7, "sender": sender},
        "action_left": {"community": c, "sender": sender},
        "action_moderated": {
            "reason": f"Hors sujet : {LONG_WORD}",
            "result": "rejected",
            "subject": subject,
        },
        "action_mute": {
            "muted": True,
            "subject": subject,
            "undo": f"unmute+48213@{DOMAIN}",
            "url": LONG_URL,
        },
        "action_mute_confirm": {
            "confirm": confirm(),
            "days": 7,
            "muted": True,
            "sender": sender,
            "subject": subject,
        },
        "action_not_member": {"community": c, "sender": sender},
        "action_owner_forward": {
            "community": c,
            "name": "Jean-Baptiste de La Fontaine",
            "sender": sender,
            "subject": subject,
        },
        "action_profile": {
            "asked": True,
            "changed": True,
            "monthly": True,
            "more_problems": 2,
            "problems": _problems(),
            "profile": {
                "name": "Jean-Baptiste de La Fontaine",
                "department": "Direction de la transformation numérique",
                "expertise": ["accessibility", "service design", LONG_WORD],
                "interests": ["typography", "cycling"],
                "bio": "Douze ans de conception de services publics numériques.",
                "timezone": "Europe/Paris",
                "communities": [c, {"name": "Design practice"}],
            },
            "profile_address": f"profile@{DOMAIN}",
            "sender": sender,
        },
        "action_profile_confirm": {
            "changes": {
                "name": "Jean-Baptiste de La Fontaine",
                "department": "Direction de la transformation numérique",
                "expertise": ["accessibility", LONG_WORD],
                "interests": None,
                "bio": None,
                "timezone": "Europe/Paris",
            },
            "confirm": confirm(),
            "days": 7,
            "monthly": False,
            "more_problems": 0,
            "problems": _problems(),
            "sender": sender,
        },
        "action_refused": {"community": c, "reason": "domain", "sender": sender},
        "action_rejected": {
            "communities": [c["name"], "Design practice"],
            "reason": f"Merci de reformuler : {LONG_WORD}.\nLe lien est ici : {LONG_URL}",
            "subject": subject,
        },
        "action_token": {"help": f"help@{DOMAIN}", "problem": "expired", "sender": sender},
        "action_confirm_question": {
            "community": c,
            "forwarded": True,
            "confirm": confirm(),
            "owners": [f"{LONG_SLUG}-owner@{DOMAIN}"],
            "help": f"help@{DOMAIN}",
        },
        "reply_not_posted": {
            "why": "ambiguous",
            "subject": f"Re: {subject}",
            "threads": [
                {
                    "subject": subject,
                    "reply": f"mailto:{LONG_SLUG}@{DOMAIN}?subject=Re%3A%20Refonte"
                    "&In-Reply-To=%3Cm3%40example.com%3E",
                }
            ],
            "communities": [c],
            "help_address": f"help@{DOMAIN}",
        },
        "action_welcome": {
            "community": c,
            "delivery": "daily",
            "profile_address": f"profile@{DOMAIN}",
            "profile_empty": True,
            "threads": [
                {"subject": subject, "posts": 12, "url": LONG_URL},
                {"subject": "Grilles typographiques", "posts": 1, "url": f"{BASE_URL}t/7/"},
            ],
            "suggestions": [_suggestion("velo", "Vélo au travail")],
        },
        "bounce_disabled": {
            "address": sender,
            "community": c,
            "last_error": f"550 5.1.1 <{sender}>: Recipient address rejected: {LONG_WORD}",
            "score": 5.0,
        },
        "import_announce": {
            "community": c,
            "imported": 1245,
            "reports": [
                {"source": f"mbox/{LONG_SLUG}-2019-2025.mbox", "imported": 1200, "duplicates": 3},
                {"source": "pipermail", "imported": 45, "duplicates": 0},
            ],
            "first": dt.datetime(2019, 3, 4, tzinfo=dt.UTC),
            "last": dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
            "archive_url": f"{BASE_URL}c/{LONG_SLUG}/",
        },
        "monthly_network": {
            "since": MONTH_START,
            "communities": [
                {
                    **c,
                    "posts": 87,
                    "threads": 19,
                    "new_members": 9,
                    "highlights": [{"subject": subject, "posts": 12, "url": LONG_URL}],
                }
            ],
            "questions": [
                {
                    "subject": f"Qui connaît la {LONG_WORD} ?",
                    "url": LONG_URL,
                    "author": "Marie-Hélène Durand-Lefebvre",
                    "community": c["name"],
                    "asked_at": NOW,
                }
            ],
            "suggestions": [_suggestion("velo", "Vélo au travail")],
            "profile_empty": True,
            "profile_address": f"profile@{DOMAIN}",
            "opt_out": f"mailto:profile@{DOMAIN}?subject=monthly%20off&body=Monthly%3A%20off",
        },
        "monthly_report": {
            "since": MONTH_START,
            "community": c,
            "figures": _figures(),
            "advice": [
                {"kind": "waiting_questions", "count": 3, "days": 7},
                {"kind": "few_posters", "count": 23, "members": 128},
                {"kind": "slow_replies", "hours": 30.5},
                {"kind": "profiles", "count": 88},
                {"kind": "bounces", "count": 2},
            ],
            "stats_url": f"{BASE_URL}stats/",
        },
    }
    return samples[kind]


KINDS = (
    "action_admitted",
    "action_already_member",
    "action_delivery",
    "action_delivery_confirm",
    "action_held",
    "action_held_sender",
    "action_help",
    "action_join_confirm",
    "action_join_pending",
    "action_join_request",
    "action_leave_confirm",
    "action_left",
    "action_moderated",
    "action_mute",
    "action_mute_confirm",
    "action_not_member",
    "action_owner_forward",
    "action_profile",
    "action_profile_confirm",
    "action_refused",
    "action_rejected",
    "action_token",
    "action_confirm_question",
    "action_welcome",
    "bounce_disabled",
    "import_announce",
    "monthly_network",
    "monthly_report",
    "reply_not_posted",
)


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
        period="2026-11-26",
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
