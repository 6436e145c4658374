"""Mail wording end to end: a French gateway, a reader whose profile is in Berlin, a post
sent over SMTP to a real `gateway serve`, `gateway digest run`: the digest the relay
writes says its times in Berlin time, in French, with French typography."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path

from gateway.app import App
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.digests.periods import latest_due
from gateway.settings import load_settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import DeliveryStatus
from gateway.store.models import utcnow
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import raw_post
from tests.integration.test_digests_end_to_end import DOMAIN
from tests.integration.test_digests_end_to_end import deliveries
from tests.integration.test_digests_end_to_end import digest_runs
from tests.integration.test_digests_end_to_end import outbox_for
from tests.integration.test_digests_end_to_end import seed
from tests.received import plain_text

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NBSP = "\u00a0"
# Written out here, not by Babel, so that the test does not check the filters by
# themselves: Monday is 0.
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip


def test_a_reader_in_berlin_gets_a_french_digest_in_berlin_time(
    app: App, config_file: Path, gateway_cli: GatewayCli
) -> None:
    seed(app)  # bob gets a daily digest of design
    with transaction(app.sessions) as session:
        set_profile(session, "bob@example.com", ProfileChanges(timezone="Europe/Berlin"))
    with config_file.open("a", encoding="utf-8") as config:
        config.write('language = "fr"\n')  # [gateway] is the file's last section
    settings = load_settings(config_file)
    assert settings.gateway.language == "fr" and settings.digests.timezone == "Europe/Paris"
    with running(settings) as server:
        wait_for(lambda: len(digest_runs(app)) == 1, what="the start-up digest run")
        post = raw_post("Couleurs", "Quel bleu pour les boutons ?\n", message_id="c1@example.com")
        assert server.send(post, [f"design@{DOMAIN}"]).startswith("250")
        wait_for(
            lambda: [status for *_, status in deliveries(app)] == [DeliveryStatus.SENT],
            what="the post's copy to carol",
        )
        # bob's next digest is due tomorrow at 07:00 in Berlin; its window starts at
        # today's 07:00 there, where the start-up run's ended.
        start = latest_due(Cadence.DAILY, utcnow(), "Europe/Berlin", settings.digests).at
        at = (start + dt.timedelta(days=1, minutes=30)).isoformat()
        assert "1 queued" in gateway_cli("digest", "run", "daily", "--at", at).stdout
        gateway_cli("queue", "retry")
        wait_for(lambda: len(outbox_for(settings, "bob@example.com")) == 1, what="the digest")
        ask = raw_post("aide", "\n", message_id="h1@example.com", sender="zoe@example.com")
        assert server.send(ask, [f"help@{DOMAIN}"], "zoe@example.com").startswith("250")
        wait_for(lambda: len(outbox_for(settings, "zoe@example.com")) == 1, what="help's answer")

    [digest] = outbox_for(settings, "bob@example.com")
    assert digest["Subject"] == f"Votre résumé quotidien{NBSP}: 1 nouveau message dans Design"
    text = plain_text(digest)
    local = start.astimezone(BERLIN)
    assert (local.hour, local.minute) == (7, 0)
    since = f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
    assert f"1 nouveau message dans 1 discussion depuis le {since} à 07:00 (Berlin)." in text
    assert "UTC" not in text and "Paris" not in text
    assert "* Couleurs - 1 nouveau message\n" in text
    assert f"Quel bleu pour les boutons{NBSP}?" in text
    assert f"Sommaire\n  - Design{NBSP}: 1 discussion\n" in text
    html = digest.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    assert f"depuis le {since} à 07:00 (Berlin)." in content and "UTC" not in content

    [help_answer] = outbox_for(settings, "zoe@example.com")
    assert help_answer["Subject"] == "Les communautés et leur mode d'emploi"
    answer = plain_text(help_answer)
    rows = [line for line in answer.splitlines() if re.match(r"  (SLUG|help@|profile@)", line)]
    assert len(rows) == 11
    # One column for the descriptions, whatever the addresses' lengths.
    assert len({len(re.match(r"  \S+ +", row).group(0)) for row in rows}) == 1  # type: ignore[union-attr]
    assert f"Les adresses (SLUG est le nom de la communauté dans son adresse){NBSP}:" in answer
