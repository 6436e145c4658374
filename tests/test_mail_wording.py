"""Every kind of mail the gateway writes, rendered in English and French: human dates in
the reader's zone, plurals right, no shell command, aligned help, the reader's own
profile as the example, and French typography in every French template."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import make_template_environment
from gateway.blobs import BlobStore
from gateway.outbound.composer import Composer
from gateway.outbound.composer import Parts
from gateway.outbound.typography import NBSP
from gateway.settings import DigestSettings
from gateway.settings import GatewaySettings
from gateway.settings import Settings
from tests import mail_samples
from tests.mail_samples import KINDS
from tests.mail_samples import PROFILE
from tests.mail_samples import long_sample
from tests.mail_samples import sample
from tests.test_mail_html import settings_for

LANGUAGES = ("en", "fr")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}(-\d{2})?\b")
# A shell command of the CLI: "gateway held approve 353", "gateway member set ...".
NOUNS = "archive|community|digest|dkim|experts|held|import|member|monthly|profile|queue|stats"
COMMAND = re.compile(rf"\bgateway ({NOUNS})\b")


def composer(language: str, zone: str = "Europe/Paris") -> Composer:
    settings = Settings(
        gateway=GatewaySettings(language=language, domain="lists.example.com"),
        digests=DigestSettings(timezone=zone),
    )
    return Composer(make_template_environment(), settings)


def words(parts: Parts) -> Iterator[str]:
    """The mail's subject, text, and the text of its HTML (tags removed)."""
    yield parts.subject
    yield parts.text
    if parts.html is not None:
        yield html.unescape(re.sub(r"<style.*?</style>|<[^>]*>", " ", parts.html, flags=re.DOTALL))


# Both variants: each takes branches the other leaves out (tests/mail_samples.py).
VARIANTS = pytest.mark.parametrize("values", [sample, long_sample], ids=["short", "long"])


@VARIANTS
@pytest.mark.parametrize("kind", KINDS)
def test_every_french_mail_has_its_no_break_spaces(kind: str, values: Any) -> None:
    parts = composer("fr").render(kind, values(kind, zone="Europe/Berlin"))
    for text in words(parts):
        # A space before : ; ? ! » or after « is a no-break one...
        assert not re.search(r"[ \t][:;?!»]|«[ \t]", text), text
        # ...and there is one: "Nom: Alice" and "suivre: mailto" were French typos.
        missing = re.findall(r"\w+[:;!?](?=[ \t\n])", text.replace("https:", "").replace("-- ", ""))
        assert missing == [], missing
    assert NBSP in parts.subject + parts.text


@VARIANTS
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_no_mail_shows_an_iso_date_utc_or_a_shell_command(
    kind: str, language: str, values: Any
) -> None:
    parts = composer(language).render(kind, values(kind, zone="Europe/Berlin"))
    for text in words(parts):
        assert not ISO_DATE.search(text), ISO_DATE.search(text)
        assert "UTC" not in text
        assert not COMMAND.search(text), COMMAND.search(text)
        assert "{{" not in text and "None" not in text


def test_the_digest_states_its_times_in_the_readers_zone() -> None:
    values = sample("digest", zone="Europe/Berlin")
    english = composer("en").render("digest", values)
    assert "1 new message in 1 thread since Monday 30 November, 06:00 (Berlin)." in english.text
    assert english.subject == "Your daily digest: 1 new message in Design practice"
    assert "Which grid, asked by Erin in Design practice 3 days ago" in english.text
    assert "since Monday 30 November, 06:00 (Berlin)." in english.html
    french = composer("fr").render("digest", values)
    assert "1 nouveau message dans 1 discussion depuis le lundi 30 novembre à 06:00 (Berlin)." in (
        french.text
    )
    assert french.subject == f"Votre résumé quotidien{NBSP}: 1 nouveau message dans Design practice"
    assert "posée par Erin dans Design practice il y a 3 jours" in french.text
    assert "posée par Erin dans Design practice il y a 3 jours" in french.html
    # No zone of their own: the configured one, named.
    paris = composer("en", "America/New_York").render("digest", sample("digest"))
    assert "since Monday 30 November, 00:00 (New York)." in paris.text


@pytest.mark.parametrize(
    ("count", "english", "french"),
    [
        (0, "0 new messages", "0 nouveau message"),
        (1, "1 new message", "1 nouveau message"),
        (2, "2 new messages", "2 nouveaux messages"),
    ],
)
def test_digest_subjects_count_in_words(count: int, english: str, french: str) -> None:
    values = sample("digest", message_count=count, thread_count=count)
    assert english in composer("en").render("digest", values).subject
    assert french in composer("fr").render("digest", values).subject


def test_the_monthly_report_says_durations_in_words_and_counts_right() -> None:
    values = sample("monthly_report")
    english = composer("en").render("monthly_report", values)
    assert english.subject == "Design practice in November 2026: 0 posts, 1 member"
    assert "since 1 November 2026." in english.text
    assert "First reply        about 2 hours (median)" in english.text
    assert "Posted             1 member; 0 only read" in english.text
    assert "in 2 new threads" in english.text
    assert "1 question waited more than 3 days for an answer" in english.text
    assert "Posts waited about 30 hours for a first reply" in english.text
    assert "2 members have no complete profile" in english.text
    assert "0.0" not in english.text and "1.6" not in english.text
    french = composer("fr").render("monthly_report", values)
    assert french.subject == f"Design practice en novembre 2026{NBSP}: 0 message, 1 membre"
    assert f"environ 2{NBSP}heures (médiane)" in french.text
    assert "1 question a attendu plus de 3 jours une réponse" in french.text
    assert "Seul 1 membre sur 12 a écrit" in french.text
    fast = sample("monthly_report", figures={**values["figures"], "median_first_reply_hours": 0})
    assert "within a minute (median)" in composer("en").render("monthly_report", fast).text


def test_the_monthly_network_mail_is_wholly_french() -> None:
    french = composer("fr").render("monthly_network", sample("monthly_network"))
    assert french.subject == f"Votre réseau en novembre 2026{NBSP}: 1 question pour vous"
    assert "depuis le 1er novembre 2026." in french.text
    assert "1 message, 0 nouvelle discussion, 1 nouveau membre" in french.text
    assert f"«{NBSP}Centres d'intérêt{NBSP}: typographie{NBSP}»" in french.text
    for english in ("Interests", "Expertise:", "post", "thread"):
        assert english not in french.text


def test_the_import_announcement_gives_its_dates_in_words() -> None:
    english = composer("en").render("import_announce", sample("import_announce"))
    assert english.subject == "1 message from earlier archives is now in Design practice"
    assert "from 3 March 2019 to 1 December 2026:" in english.text
    french = composer("fr").render("import_announce", sample("import_announce", imported=3))
    assert "3 messages d'archives antérieures ont été ajoutés" in french.text
    assert "du 3 mars 2019 au 1er décembre 2026" in french.text
    assert "1 importé, 1 déjà présent" in french.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("domain", ["lists.example.com", "x.io", "communities.big-company.example"])
def test_help_lists_its_addresses_in_one_column(language: str, domain: str) -> None:
    settings = Settings(gateway=GatewaySettings(language=language, domain=domain))
    values = sample(
        "action_help",
        community=None,
        help_address=f"help@{domain}",
        profile_address=f"profile@{domain}",
    )
    text = Composer(make_template_environment(), settings).render("action_help", values).text
    rows = [line for line in text.splitlines() if re.match(r"  (SLUG|help@|profile@)", line)]
    assert len(rows) == 11
    starts = {len(re.match(r"  \S+\s+", row).group(0)) for row in rows}  # type: ignore[union-attr]
    assert len(starts) == 1, rows


@pytest.mark.parametrize("language", LANGUAGES)
def test_profile_shows_the_readers_own_values_to_edit_and_leaves_unset_ones_empty(
    language: str,
) -> None:
    # A member with a profile who sends the block back must not get a sample's values.
    profile = {**PROFILE, "department": ""}
    values = sample("action_profile", profile=profile)
    text = composer(language).render("action_profile", values).text
    example = text[text.index("profile@lists.example.com") :]
    assert "Alice Martin" in example and "HDS, pentest" in example
    assert "Europe/Berlin" in example
    lines = [line.strip() for line in example.splitlines()]
    english = language == "en"
    for field in (
        ("Department:", "Interests:", "Bio:")
        if english
        else (
            f"Service{NBSP}:",
            f"Centres d'intérêt{NBSP}:",
            f"Bio{NBSP}:",
        )
    ):
        assert field in lines, field  # the field alone: sent back, it stays empty
    for sample_value in ("Design", "photograph", "Twelve", "Douze", "typograph"):
        assert sample_value not in example


@pytest.mark.parametrize("language", LANGUAGES)
def test_profile_without_one_shows_a_filled_in_example(language: str) -> None:
    text = composer(language).render("action_profile", sample("action_profile", profile=None)).text
    example = text[text.index("profile@lists.example.com") :]
    assert "Alice Martin" in example and "Europe/Paris" in example  # the configured zone
    assert ("accessibility, typography" if language == "en" else "accessibilité, typographie") in (
        example
    )
    assert "HDS" not in example


@pytest.mark.parametrize(
    ("days", "english", "french"), [(1, "1 day,", "1 jour,"), (2, "2 days,", "2 jours,")]
)
def test_confirmations_say_how_long_they_work(days: int, english: str, french: str) -> None:
    values = sample("action_join_confirm", days=days)
    assert f"works for {english} once" in composer("en").render("action_join_confirm", values).text
    assert (
        f"valable {french} une seule fois"
        in composer("fr").render("action_join_confirm", values).text
    )


def test_the_profile_example_still_reads_as_profile_lines() -> None:
    from gateway.actions.profile import read_lines
    from gateway.actions.profile import read_monthly

    text = composer("fr").render("action_profile", sample("action_profile", problems=[])).text
    lines = [line for line in text.splitlines() if line.startswith("    ")]
    changes, problems = read_lines(lines)
    assert problems == []
    assert changes.expertise == PROFILE["expertise"] and changes.timezone == "Europe/Berlin"
    assert read_monthly([f"Mensuel{NBSP}: non"])[0] is False


def test_the_reworded_sentences() -> None:
    def text(language: str, kind: str, **changes: object) -> str:
        # Lines joined; no-break spaces kept.
        return re.sub(r"[ \n]+", " ", composer(language).render(kind, sample(kind, **changes)).text)

    # The digest points to its Reply links and to replying to it, not to addresses.
    assert "use its Reply link, or reply to this digest." in text("en", "digest")
    assert f"lien «{NBSP}Répondre{NBSP}», ou répondez à ce résumé." in text("fr", "digest")
    held = text("en", "action_held", days=1, published_in=["Atlas"])
    assert "work for 1 day, once" in held and "It is already published in Atlas" in held
    gateway = text("en", "reply_not_posted", why="notice")
    assert "a mail the gateway sent, not a post, so it reached no one." in gateway
    assert "pas à un message publié, et n'a donc atteint personne." in text(
        "fr", "reply_not_posted", why="notice"
    )
    assert "aucun texte de votre part" in text("fr", "reply_not_posted", why="empty")
    threads = [{"subject": "Which grid", "reply": "mailto:x@example.com"}]
    assert "or use these links:" in text("en", "reply_not_posted", threads=threads)
    assert f"ou ces liens{NBSP}:" in text("fr", "reply_not_posted", threads=threads)
    english = composer("en").render(
        "action_confirm_question",
        sample(
            "action_confirm_question",
            forwarded=True,
            community={"name": "Design", "addresses": {"owner": "o@x"}},
        ),
    )
    assert english.subject.endswith("your message was passed on to the owners")
    french = composer("fr").render(
        "action_confirm_question",
        sample(
            "action_confirm_question",
            forwarded=True,
            community={"name": "Design", "addresses": {"owner": "o@x"}},
        ),
    )
    assert french.subject.endswith("votre message a été transmis aux responsables")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["reply_not_posted", "action_profile"])
def test_the_reworded_mails_fit_78_columns(language: str, kind: str) -> None:
    for why in ("ambiguous", "empty", "digest", "notice"):
        text = composer(language).render(kind, sample(kind, why=why)).text
        assert max(len(line) for line in text.splitlines()) <= 78, text


def test_file_sizes_read_in_the_readers_language(tmp_path: Path) -> None:
    """A French digest lists "24,7 Ko" and "31 octets", not "KB" and "bytes"."""
    for language, sizes in (("fr", ("24,7\u00a0Ko", "31\u00a0octets")), ("en", ("24.7 KB",))):
        writer, digest, names = mail_samples.digest(
            settings_for(language, tmp_path), make_template_environment(), BlobStore(tmp_path)
        )
        text = writer.parts(digest, names).text
        assert all(size in text for size in sizes), (language, sizes)
