"""The email actions' pure parts: own text of a reply, profile lines, tokens, the robot
guard, which action each kind leads to, and their templates in both languages."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from gateway.actions import confirm
from gateway.actions import runner
from gateway.actions.profile import read_lines
from gateway.actions.text import own_lines
from gateway.actions.tokens import TokenProblem
from gateway.actions.tokens import check
from gateway.actions.tokens import issue
from gateway.actions.tokens import new_token
from gateway.actions.tokens import redeem
from gateway.app import make_template_environment
from gateway.community.people import ProfileChanges
from gateway.community.people import ensure_person
from gateway.community.people import find_person
from gateway.community.people import keep_display_name
from gateway.ingest.errors import HoldReason
from gateway.mail.headers import is_automatic
from gateway.settings import Settings
from gateway.store.models import ActionKind
from gateway.store.models import PendingAction
from gateway.store.models import utcnow
from templates import PATH as TEMPLATES

DOMAIN = "lists.example.com"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Name: Bob\n\n> Name: Mallory\n", ["Name: Bob"]),
        ("Name: Bob\n-- \nBob Chen, Design\n", ["Name: Bob"]),
        ("\n\nToo late.\nOn Tue, Alice wrote:\nName: Mallory\n", ["Too late."]),
        ("Non.\nLe mardi 3, Alice a écrit :\nNom: Mallory\n", ["Non."]),
        ("Ok\n-----Original Message-----\nFrom: x\n", ["Ok"]),
        (
            "Ok\r\nDe : Alice\r\nEnvoyé : mardi 3 mars 2026\r\nÀ : profile@lists.example.com\r\n"
            "Objet : RE: Votre profil\r\nNom: Mallory\r\n",
            ["Ok"],
        ),
        ("> Name: Mallory\n", []),
    ],
)
def test_own_lines_leave_quotes_and_signatures_out(body: str, expected: list[str]) -> None:
    assert own_lines(body) == expected


@pytest.mark.parametrize(
    ("line", "choice"),
    [
        ("Write to: off", "off"),
        ("write to :  NO", "off"),
        ("Écrire : non", "off"),
        ("Me contacter: oui", "on"),
        ("Write to me: on", "on"),
        ("Write to: default", "default"),
        ("Ecrire : par défaut", "default"),
        ("M'écrire : oui", "on"),
        ("M\u2019écrire : non", "off"),  # the apostrophe iOS and macOS type
    ],
)
def test_the_write_to_line_in_both_languages(line: str, choice: str) -> None:
    assert read_lines([line]) == (ProfileChanges(write_to=choice), [])


def test_a_write_to_line_with_another_value_is_reported_not_guessed() -> None:
    changes, problems = read_lines(["Write to: maybe", "Name: Bob"])
    assert changes == ProfileChanges(name="Bob")
    assert problems == [{"line": "Write to: maybe", "problem": "invalid"}]


def test_profile_lines_in_both_languages() -> None:
    changes, problems = read_lines(
        [
            "NAME : Bob Chen",
            "Centres d\u2019intérêt: vélo, jazz",
            "service: Design",
            "Expertise: a11y; typography",
            "Bio: Ten years.",
            "Shoe size: 44",
            "just a sentence",
            "Timezone: Mars/Olympus",
        ]
    )
    assert changes == ProfileChanges(
        name="Bob Chen",
        department="Design",
        bio="Ten years.",
        expertise=["a11y", "typography"],
        interests=["vélo", "jazz"],
    )
    assert problems == [
        {"line": "Shoe size: 44", "problem": "unknown"},
        {"line": "just a sentence", "problem": "unknown"},
        {"line": "Timezone: Mars/Olympus", "problem": "invalid"},
    ]


def test_tokens_are_single_use_bound_and_expire(session: Session, settings: Settings) -> None:
    now = utcnow()
    token = issue(session, settings, now, PendingAction.JOIN, "bob@example.com")
    assert token == token.lower() and len(token) == 32 and token != new_token()
    assert redeem(session, token, "eve@example.com", now) is TokenProblem.OTHER_PERSON
    assert redeem(session, new_token(), "bob@example.com", now) is TokenProblem.UNKNOWN
    later = now + dt.timedelta(days=settings.actions.token_days, seconds=1)
    assert redeem(session, token, "bob@example.com", later) is TokenProblem.EXPIRED
    confirmation = redeem(session, token, "bob@example.com", now)
    assert not isinstance(confirmation, TokenProblem)
    assert confirmation.action is PendingAction.JOIN
    assert redeem(session, token, "bob@example.com", now) is TokenProblem.USED


def test_a_checked_token_stays_usable(session: Session, settings: Settings) -> None:
    now = utcnow()
    token = issue(session, settings, now, PendingAction.APPROVE, "mona@example.com")
    assert check(session, token, "eve@example.com", now) is TokenProblem.OTHER_PERSON
    checked = check(session, token, "mona@example.com", now)
    assert not isinstance(checked, TokenProblem) and checked.used_at is None
    assert not isinstance(redeem(session, token, "mona@example.com", now), TokenProblem)
    assert check(session, token, "mona@example.com", now) is TokenProblem.USED


@pytest.mark.parametrize(
    ("headers", "sender", "automatic"),
    [
        ({}, "bob@example.com", False),
        ({"auto-submitted": "no"}, "bob@example.com", False),
        ({"auto-submitted": "auto-replied"}, "bob@example.com", True),
        ({"precedence": "bulk"}, "bob@example.com", True),
        ({"precedence": "list"}, "bob@example.com", True),
        ({"precedence": "junk"}, "bob@example.com", True),
        ({"list-id": "<fedora-devel-list.redhat.com>"}, "bob@example.com", True),
        ({"x-gateway-loop": DOMAIN}, "bob@example.com", True),
        ({"list-id": f"<design.{DOMAIN}>"}, "bob@example.com", True),
        ({}, "mailer-daemon@example.com", True),
        ({}, "postmaster@example.com", True),
        ({}, "noreply+x@example.com", True),
        ({}, "no-reply-billing@example.com", True),
        ({}, f"help@{DOMAIN}", True),
        # Every common responder's marker (issue 16), each copy of a header read.
        ({"precedence": "auto_reply"}, "bob@example.com", True),
        ({"x-precedence": "bulk"}, "bob@example.com", True),
        ({"x-autogenerated": "Reply"}, "bob@example.com", True),
        ({"x-auto-response-suppress": "All"}, "bob@example.com", True),
        ({"x-ms-exchange-inbox-rules-loop": "bob@example.com"}, "bob@example.com", True),
        ({"auto-submitted": ("no", "auto-replied")}, "bob@example.com", True),
        ({"auto-submitted": ("no",)}, "bob@example.com", False),
        ({"x-gateway-loop": f"{DOMAIN.upper()}. (ours)"}, "bob@example.com", True),
        ({"list-id": f"Design <design.{DOMAIN}.>"}, "bob@example.com", True),
    ],
)
def test_actions_never_answer_automatic_or_list_mail(
    headers: dict[str, str], sender: str, automatic: bool
) -> None:
    """Unlike a post (tests/test_ingest_stages.py: test_screen_discards_a_post_only_when_it_says
    it_is_automatic), an email action treats Precedence and any List-Id as automatic."""
    assert is_automatic(headers, sender, DOMAIN) is automatic
    assert is_automatic(headers, sender, DOMAIN, envelope_sender=sender) is automatic


def test_actions_never_answer_the_null_envelope_sender() -> None:
    """RFC 5321 section 4.5.5: only notifications use it, whatever the From says."""
    assert is_automatic({}, "bob@example.com", DOMAIN, envelope_sender="")
    assert is_automatic({}, "bob@example.com", DOMAIN, envelope_sender="<>")
    assert not is_automatic({}, "bob@example.com", DOMAIN, envelope_sender="bob@example.com")


def test_extra_markers_make_action_mail_automatic() -> None:
    extra = ("X-Robot", "X-Report-Type: survey")
    assert is_automatic({"x-robot": ""}, "bob@example.com", DOMAIN, extra=extra)
    assert is_automatic({"x-report-type": "Survey"}, "bob@example.com", DOMAIN, extra=extra)
    assert not is_automatic({"x-report-type": "mine"}, "bob@example.com", DOMAIN, extra=extra)


def test_every_answer_exists_in_english_and_french() -> None:
    english = {p.name.removesuffix(".en.txt") for p in TEMPLATES.glob("mail/action_*.en.txt")}
    french = {p.name.removesuffix(".fr.txt") for p in TEMPLATES.glob("mail/action_*.fr.txt")}
    assert english == french
    assert len(english) >= 20


def test_every_action_kind_is_acted_on_but_those_kept_for_others() -> None:
    # postmaster@ and abuse@ wait for an admin; bounces are the delivery side's.
    kept = {ActionKind.POSTMASTER, ActionKind.ABUSE, ActionKind.BOUNCES}
    assert set(runner.ACTIONS) == set(ActionKind) - kept
    assert runner.INTERNAL == {ActionKind.HELD}  # answered even though a robot "sent" it


def test_every_pending_action_has_its_confirmation() -> None:
    assert set(confirm.CONFIRMED) == set(PendingAction)
    assert confirm.ON_MEMBERSHIP == {
        PendingAction.JOIN,
        PendingAction.ADMIT,
        PendingAction.LEAVE,
        PendingAction.DELIVERY,
    }


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_hold_reason_is_said_in_both_languages(language: str) -> None:
    macros = make_template_environment().get_template(f"mail/action_macros.{language}.txt")
    held_reason = macros.module.held_reason  # type: ignore[attr-defined]
    community = {"name": "Design"}
    said = {reason: held_reason(reason, community) for reason in HoldReason}
    assert all("Design" in text for text in said.values()), said
    assert len(set(said.values())) == len(HoldReason)  # each its own sentence
    assert held_reason(HoldReason.NOT_MEMBER, community, you=True) != said[HoldReason.NOT_MEMBER]


@pytest.mark.parametrize(
    ("known", "name", "kept"),
    [
        (None, "Hugo Lefèvre", "Hugo Lefèvre"),  # new: the From's display name
        ("", "Hugo  Lefèvre", "Hugo Lefèvre"),  # known without a name
        ("Hugo L.", "Hugo Lefèvre", "Hugo L."),  # a name in the profile stays
        ("", "hugo@example.com", ""),  # an address is not a name
        ("", "", ""),
    ],
)
def test_joining_by_mail_keeps_the_from_display_name(
    session: Session, known: str | None, name: str, kept: str
) -> None:
    if known is not None:
        ensure_person(session, "hugo@example.com").name = known
    person = ensure_person(session, "hugo@example.com")
    assert keep_display_name(person, name) is (kept != (known or ""))
    session.flush()
    assert find_person(session, "hugo@example.com").name == kept  # type: ignore[union-attr]
