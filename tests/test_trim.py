"""Reply trimming (gateway.mail.trim): each marker family, and every labelled reply of
tests/fixtures/replies/ with its new text kept whole and nothing else left unfolded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.mail.parse import parse_message
from gateway.mail.sanitize import sanitize_html
from gateway.mail.trim import Kind
from gateway.mail.trim import trim_html
from gateway.mail.trim import trim_text

REPLIES = Path(__file__).parent / "fixtures" / "replies"
LABELLED = sorted(path.stem for path in REPLIES.glob("*.eml"))


def words(text: str) -> str:
    return " ".join(re.sub(r"[*_`\\]+", "", text).split())


def kinds(trimmed) -> list[Kind]:
    return [part.kind for part in trimmed.parts]


def test_the_labelled_set_is_large_enough() -> None:
    assert len(LABELLED) >= 60


@pytest.mark.parametrize("name", LABELLED)
def test_labelled_reply_keeps_its_new_text_and_folds_the_rest(name: str) -> None:
    parsed = parse_message((REPLIES / f"{name}.eml").read_bytes())
    expected = words((REPLIES / f"{name}.expected.txt").read_text("utf-8"))
    assert words(trim_text(parsed.body_text).new_text) == expected
    if parsed.body_html:
        assert words(trim_html(parsed.body_html).new_text) == expected


# Plain text ------------------------------------------------------------------------


def test_quoted_lines_and_their_attribution_are_folded() -> None:
    trimmed = trim_text("Agreed.\n\nOn Tue, 3 Mar 2026, Alice wrote:\n> Shall we?\n> Yes\n")
    assert trimmed.new_text == "Agreed."
    assert kinds(trimmed) == [Kind.NEW, Kind.QUOTED]
    assert trimmed.parts[1].text.lstrip().startswith("On Tue, 3 Mar 2026, Alice wrote:")


@pytest.mark.parametrize(
    "attribution",
    [
        "On Tue, 3 Mar 2026 at 10:12, Alice Martin <alice@example.org> wrote:",
        "Le mar. 3 mars 2026 à 10:12, Alice Martin <alice@example.org> a écrit :",
        "Le 3 mars 2026 à 10:12, Alice Martin a écrit\u00a0:",
        "Am 03.03.26 um 10:12 schrieb Alice Martin:",
        "Am Di., 3. März 2026 um 10:12 Uhr schrieb Alice Martin <alice@example.org>:",
    ],
)
def test_attributions_in_french_english_and_german(attribution: str) -> None:
    trimmed = trim_text(f"Merci.\n\n{attribution}\n> Question ?\n")
    assert trimmed.new_text == "Merci."
    assert attribution in trimmed.parts[-1].text


def test_an_attribution_wrapped_over_two_lines() -> None:
    text = (
        "Yes.\n\nOn Tue, Aug 3, 2010 at 10:12 AM, Bounine, Alexandre\n"
        "<a@example.org> wrote:\n> Hi\n"
    )
    assert trim_text(text).new_text == "Yes."


def test_a_french_sentence_starting_le_is_kept_when_a_quoted_attribution_follows() -> None:
    text = "Le projet avance bien.\nLe devis suit.\n\n> Le 3 mars, X a écrit :\n> > Alors ?\n"
    assert trim_text(text).new_text == "Le projet avance bien.\nLe devis suit."


@pytest.mark.parametrize(
    "text",
    ["Alice wrote:\nthe plan is ready.\n", "Voici.\nLe résumé qu'Alice a écrit :\n- un\n- deux\n"],
)
def test_an_attribution_like_sentence_not_followed_by_a_quote_is_kept(text: str) -> None:
    assert not trim_text(text).folded


def test_an_attribution_with_a_date_opens_unmarked_history() -> None:
    text = "Fine.\n\nLe mardi 3 mars 2026 à 10:12, Alice a écrit :\n\nQuestion sans chevron\n"
    assert trim_text(text).new_text == "Fine."


def test_interleaved_answers_are_kept_between_folded_quotes() -> None:
    text = "Alice wrote:\n> One?\n\nYes.\n\n> Two?\n\nNo.\n"
    trimmed = trim_text(text)
    assert words(trimmed.new_text) == "Yes. No."
    assert kinds(trimmed) == [Kind.QUOTED, Kind.NEW, Kind.QUOTED, Kind.NEW]


def test_the_signature_separator_folds_the_signature_and_its_disclaimer() -> None:
    text = "See you.\n\n-- \nHugo\nAtlas\n\nThis email is confidential.\n"
    trimmed = trim_text(text)
    assert trimmed.new_text == "See you."
    assert kinds(trimmed) == [Kind.NEW, Kind.SIGNATURE]
    assert "confidential" in trimmed.parts[1].text


@pytest.mark.parametrize(
    "furniture",
    [
        "Sent from my iPhone",
        "Envoyé de mon iPhone",
        "Von meinem iPad gesendet",
        "Get Outlook for iOS",
    ],
)
def test_the_mobile_clients_line_is_folded(furniture: str) -> None:
    assert trim_text(f"Ok.\n\n{furniture}\n").new_text == "Ok."


def test_outlook_header_block_folds_everything_after_it() -> None:
    text = (
        "Oui.\n\nDe : Alice <a@example.org>\nEnvoyé : mardi 3 mars 2026 10:12\n"
        "À : Hugo\nObjet : RE: Planning\n\nQuestion sans chevron\n"
    )
    trimmed = trim_text(text)
    assert trimmed.new_text == "Oui."
    assert "Question sans chevron" in trimmed.parts[-1].text


def test_a_from_line_alone_is_not_a_header_block() -> None:
    text = "From: the team, with thanks.\nWe ship on Monday.\n"
    assert not trim_text(text).folded


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Message d'origine-----",
        "-----Ursprüngliche Nachricht-----",
    ],
)
def test_original_message_separators(separator: str) -> None:
    assert trim_text(f"Done.\n\n{separator}\nFrom: Alice\nold text\n").new_text == "Done."


def test_a_contact_block_with_a_phone_number_is_a_signature() -> None:
    text = (
        "Merci pour le retour.\n\nCordialement,\n\n"
        "Hugo Lefèvre\nChef de projet\nTél. : +33 1 23 45 67 89\n"
    )
    trimmed = trim_text(text)
    assert trimmed.new_text == "Merci pour le retour.\n\nCordialement,"
    assert trimmed.parts[-1].kind is Kind.SIGNATURE


def test_short_last_lines_without_a_phone_or_logo_are_kept() -> None:
    text = "Merci pour le retour.\n\nHugo\nÀ demain\n"
    assert not trim_text(text).folded


def test_a_reply_that_would_be_empty_is_shown_whole() -> None:
    text = "On Tue, Alice wrote:\n> Everything quoted\n\n-- \nHugo\n"
    trimmed = trim_text(text)
    assert not trimmed.folded
    assert trimmed.parts[0].text == text


def test_the_parts_put_together_are_the_whole_body() -> None:
    text = "Yes.\n\n-- \nHugo\n\nOn Tue, Alice wrote:\n> Shall we?\n"
    assert "\n".join(part.text for part in trim_text(text).parts) == text


# HTML, as sanitized at ingest ------------------------------------------------------


def clean(html: str) -> str:
    return sanitize_html(html)


def test_gmail_quote_and_signature() -> None:
    html = clean(
        '<div dir="ltr"><div>Yes, Thursday.</div><br clear="all"><div><br></div>'
        '<span class="gmail_signature_prefix">-- </span><br><div class="gmail_signature">Hugo<br>'
        '+33 6 12 34 56 78</div></div><br><div class="gmail_quote gmail_quote_container">'
        '<div class="gmail_attr">On Tue, Alice wrote:<br></div><blockquote class="gmail_quote">'
        "<div>When?</div></blockquote></div>"
    )
    trimmed = trim_html(html)
    assert trimmed.new_text == "Yes, Thursday."
    assert [p.kind for p in trimmed.parts if p.text.strip()] == [
        Kind.NEW,
        Kind.SIGNATURE,
        Kind.QUOTED,
    ]
    assert "When?" in next(p.html for p in trimmed.parts if p.kind is Kind.QUOTED)


def test_gmail_interleaved_answers_inside_gmail_quote_are_kept() -> None:
    html = clean(
        '<div class="gmail_quote"><div class="gmail_attr">On Tue, Alice wrote:</div>'
        '<blockquote class="gmail_quote">One?</blockquote><div>Yes.</div>'
        '<blockquote class="gmail_quote">Two?</blockquote><div>No.</div></div>'
    )
    assert words(trim_html(html).new_text) == "Yes. No."


def test_outlook_web_reply_header_and_signature() -> None:
    html = clean(
        '<div>Merci.</div><div id="Signature">Hugo<br>Tél. +33 1 23 45 67 89</div>'
        '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>De :</b> Alice<br>'
        "<b>Envoyé :</b> mardi<br><b>À :</b> Hugo<br><b>Objet :</b> Planning</div><div>Old</div>"
    )
    trimmed = trim_html(html)
    assert trimmed.new_text == "Merci."
    quoted = "".join(p.html for p in trimmed.parts if p.kind is Kind.QUOTED)
    assert "<hr>" in quoted and "Old" in quoted and "Envoyé" in quoted


def test_outlook_desktop_header_block_without_any_marker() -> None:
    html = clean(
        "<div><p>Oui pour jeudi.</p><p>&nbsp;</p><div><div style='border-top:solid 1pt'>"
        "<p><b>Von:</b> Alice<br><b>Gesendet:</b> Dienstag<br><b>An:</b> Hugo<br>"
        "<b>Betreff:</b> Planung</p></div></div><p>Alte Frage</p></div>"
    )
    trimmed = trim_html(html)
    assert trimmed.new_text == "Oui pour jeudi."
    assert "Alte Frage" in trimmed.parts[-1].html


def test_apple_mail_blockquote_cite_and_thunderbird_markers() -> None:
    html = clean(
        "<p>Agreed.</p>"
        '<pre class="moz-signature">-- \nHugo</pre>'
        '<div class="moz-cite-prefix">Le 03/03/2026, Alice a écrit :</div>'
        '<blockquote type="cite">Question</blockquote>'
    )
    trimmed = trim_html(html)
    assert trimmed.new_text == "Agreed."
    assert kinds(trimmed) == [Kind.NEW, Kind.SIGNATURE, Kind.QUOTED]


def test_yahoo_and_proton_markers() -> None:
    yahoo = clean('<div>Fine.</div><div class="yahoo_quoted"><div>On Tue, A wrote:</div>Q</div>')
    assert trim_html(yahoo).new_text == "Fine."
    proton = clean(
        '<div>Fine.</div><div class="protonmail_signature_block">Sent with Proton Mail secure '
        'email.</div><div class="protonmail_quote">On Tue, A wrote:<br>'
        '<blockquote class="protonmail_quote">Q</blockquote></div>'
    )
    trimmed = trim_html(proton)
    assert trimmed.new_text == "Fine."
    assert Kind.SIGNATURE in kinds(trimmed) and Kind.QUOTED in kinds(trimmed)


def test_an_html_reply_that_would_be_empty_is_shown_whole() -> None:
    html = clean("<blockquote>Only a quote</blockquote>")
    trimmed = trim_html(html)
    assert not trimmed.folded
    assert "Only a quote" in trimmed.parts[0].html


def test_html_parts_put_together_keep_every_word() -> None:
    html = clean(
        "<div>Yes.</div><div>-- </div><div>Hugo</div><div>On Tue, Alice wrote:</div>"
        "<blockquote>Shall we?</blockquote>"
    )
    joined = "".join(part.html for part in trim_html(html).parts)
    for word in ("Yes.", "--", "Hugo", "On Tue, Alice wrote:", "Shall we?"):
        assert word in joined


def test_a_rule_under_a_title_is_the_senders_text() -> None:
    text = "Known issues\n------------\n- the cache may be stale\n"
    assert not trim_text(text).folded


def test_a_double_dash_above_a_long_text_is_the_senders_separator() -> None:
    report = "\n".join(f"package-{n}: BADURL" for n in range(30))
    trimmed = trim_text(f"Here is this week's run.\n--\n{report}\n")
    assert not trimmed.folded


@pytest.mark.parametrize(
    "phone", ["Tél. +33 1 23 45 67 89", "Mobile: 06 12 34 56 78", "T +44 20 7946 0958"]
)
def test_contact_lines_with_a_label(phone: str) -> None:
    trimmed = trim_text(f"Merci.\n\nHugo Lefèvre\n{phone}\n")
    assert trimmed.new_text == "Merci."


def test_a_sentence_giving_a_phone_number_is_the_senders_text() -> None:
    text = "Hi,\n\nCall me tomorrow on +44 20 7946 0958 if that is easier.\nHugo\n"
    assert not trim_text(text).folded


@pytest.mark.parametrize(
    "disclaimer",
    [
        "CONFIDENTIALITY NOTICE: this e-mail may contain privileged information.",
        "This message is intended solely for the use of the addressee.",
        "Ce message et ses pièces jointes sont destinés aux destinataires désignés.",
        "Toute diffusion non autorisée est strictement interdite.",
        "Diese E-Mail ist VERTRAULICH und nur für den Empfänger bestimmt.",
        "Please think before printing this e-mail, for the planet.",
        "Pensez à l'environnement avant d'imprimer ce message.",
    ],
)
def test_a_disclaimer_after_the_new_text_is_its_signature(disclaimer: str) -> None:
    """Every phrase of the disclaimer pattern, in any case, is found: the quick look for
    its words before the line-by-line search (trim._DISCLAIMER_WORDS) misses none."""
    text = f"The figures are in the shared folder.\n\nMarie\n\n{disclaimer}\n"
    trimmed = trim_text(text)
    assert trimmed.new_text == "The figures are in the shared folder.\n\nMarie"
    assert kinds(trimmed) == [Kind.NEW, Kind.SIGNATURE]
