"""From display names that say what a mail is (templates/mail/sender.<language>.txt), in
both languages, and the address kept apart from the name (Composer.message)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
from pathlib import Path

import pytest

from gateway.app import make_template_environment
from gateway.blobs import BlobStore
from gateway.outbound.composer import Composer
from tests import mail_samples
from tests.test_mail_html import settings_for


def from_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["From"])


@pytest.mark.parametrize(
    ("language", "kind", "values", "expected"),
    [
        ("en", "digest", {"community_names": ["Design practice"]}, "Design practice digest"),
        ("en", "digest", {"community_names": ["Design", "UX"]}, "Acme digest"),
        ("fr", "digest", {"community_names": ["Design"]}, "Résumé Design"),
        ("fr", "digest", {"community_names": ["Design", "UX"]}, "Résumé Acme"),
        ("en", "action_held", {"community": {"name": "Design"}}, "Design moderators"),
        ("fr", "bounce_disabled", {"community": {"name": "Design"}}, "Modération Design"),
        ("en", "action_welcome", {"community": {"name": "Design"}}, "Acme"),
        ("fr", "action_held", {"community": None}, "Acme"),
    ],
)
def test_names_in_english_and_french(
    tmp_path: Path, language: str, kind: str, values: dict[str, object], expected: str
) -> None:
    settings = settings_for(language, tmp_path)
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, name="Acme")
    )
    composer = Composer(make_template_environment(), settings)
    assert composer._sender(kind, values) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("action_held", f"{mail_samples.LONG_NAME} moderators"),
        ("action_join_request", f"{mail_samples.LONG_NAME} moderators"),
        ("bounce_disabled", f"{mail_samples.LONG_NAME} moderators"),
        ("action_welcome", "Acme communities"),
        ("action_help", "Acme communities"),
        ("monthly_report", "Acme communities"),
    ],
)
def test_notices_come_from_the_moderators_or_the_gateway(
    tmp_path: Path, kind: str, expected: str
) -> None:
    settings = settings_for("en", tmp_path)
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, name="Acme communities")
    )
    composer = Composer(make_template_environment(), settings)
    raw = composer.compose(
        kind, "bob@example.com", mail_samples.long_sample(kind), mail_samples.NOW
    )
    assert email.utils.parseaddr(from_of(raw)) == (expected, f"help@{mail_samples.DOMAIN}")


def test_the_address_and_the_name_are_two_parameters(tmp_path: Path) -> None:
    composer = Composer(make_template_environment(), settings_for("en", tmp_path))
    parts = composer.render("action_left", mail_samples.long_sample("action_left"))
    raw = composer.message(
        parts, "bob@example.com", mail_samples.NOW, kind="x", sender="digest", sender_name="Z"
    )
    assert from_of(raw) == f"Z <digest@{mail_samples.DOMAIN}>"


def test_a_digest_of_one_community_is_named_after_it(tmp_path: Path) -> None:
    settings = settings_for("fr", tmp_path)
    writer, digest, names = mail_samples.digest(
        settings, make_template_environment(), BlobStore(tmp_path / "blobs")
    )
    one = dataclasses.replace(digest, sections=digest.sections[1:])
    _, raw = writer.mail(one, names, mail_samples.NOW)
    assert from_of(raw) == f"Résumé Design practice <digest@{mail_samples.DOMAIN}>"
    _, raw = writer.mail(digest, names, mail_samples.NOW)
    assert from_of(raw) == f"Résumé Community gateway <digest@{mail_samples.DOMAIN}>"
