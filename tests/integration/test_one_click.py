"""One-click unsubscribe end to end (RFC 8058): a real `serve` with its web server on a
loopback port, curl's POST, digests, monthly mails and personal copies delivered to a
real SMTP sink, and the archive folder served (or not)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.message
import http.client
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from gateway.adoption.monthly import run_monthly
from gateway.adoption.months import latest_month
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.members import find_membership
from gateway.community.members import remove_members
from gateway.community.people import find_person
from gateway.digests.runner import run_digests
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import Policy
from gateway.store.models import utcnow
from gateway.web.tokens import Stop
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import ingest_post
from tests.factories import post
from tests.integration.test_gateway_command import gateway
from tests.postgres import free_port
from tests.received import parse_mail
from tests.sink import Sink

DOMAIN = "lists.example.com"
BASE_URL = "https://lists.example.com/"
DAY = 24 * 3600
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with an https base_url: a TLS proxy in front of [web]."""
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, base_url=BASE_URL))


def web_settings(settings: Settings, sink_port: int, **delivery: Any) -> Settings:
    """The settings, relaying to the sink and retrying after a second."""
    return dataclasses.replace(
        settings,
        relay=dataclasses.replace(settings.relay, backend="smtp", host="127.0.0.1", port=sink_port),
        delivery=dataclasses.replace(settings.delivery, retry_wait_seconds=1, **delivery),
    )


@pytest.fixture
def seeded(app: App) -> App:
    """design: bob and carol, instant; ux: bob. Members since long ago."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        ux = create_community(session, "ux", "UX Guild", policy=Policy.OPEN)
        for community in (design, ux):
            community.created_at = LONG_AGO
        memberships = add_members(session, design, ["bob@example.com", "carol@example.com"])
        memberships += add_members(session, ux, ["bob@example.com"])
        for membership in memberships:
            membership.joined_at = LONG_AGO
    return app


@pytest.fixture
def server(seeded: App, settings: Settings, sink: tuple[Sink, int]) -> Iterator[RunningGateway]:
    with running(web_settings(settings, sink[1])) as gateway_server:
        yield gateway_server


# --- reading the store


def membership(app: App, slug: str, address: str) -> Membership | None:
    with transaction(app.read_sessions) as session:
        return find_membership(session, get_community(session, slug), address)


def person_id(app: App, address: str) -> int:
    with transaction(app.read_sessions) as session:
        person = find_person(session, address)
        assert person is not None
        return person.id


def community_id(app: App, slug: str) -> int:
    with transaction(app.read_sessions) as session:
        return get_community(session, slug).id


def state(app: App) -> list[tuple[str, str, str]]:
    """Every membership, as (community, address, delivery): what a refusal must not change."""
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Community.slug, Membership).join(
                Community, Community.id == Membership.community_id
            )
        )
        return sorted((slug, m.person.address, m.delivery.value) for slug, m in rows)


# --- HTTP


@dataclasses.dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str


def request(server: RunningGateway, method: str, path: str, body: str | None = None) -> Answer:
    """One HTTP request to the gateway's web server, its path sent exactly as given."""
    connection = http.client.HTTPConnection(
        server.settings.web.host, server.settings.web.port, timeout=30
    )
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode("utf-8"))
    finally:
        connection.close()


def curl_post(url: str) -> tuple[int, str]:
    """`curl -d List-Unsubscribe=One-Click URL`, as RFC 8058's mailbox providers POST."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    result = subprocess.run(
        [curl, "-sS", "-d", ONE_CLICK, "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    text, _, status = result.stdout.rpartition("\n")
    return int(status), text


def local(server: RunningGateway, url: str) -> str:
    """A link of a mail (base_url, the proxy's) as the loopback URL of our server."""
    assert url.startswith(BASE_URL), url
    return f"{server.web_origin}/{url.removeprefix(BASE_URL)}"


def one_click_url(server: RunningGateway, request_: Unsubscribe, at: float | None = None) -> str:
    token = Tokens.for_settings(server.settings).issue(request_, at=at)
    return f"{server.web_origin}/u/{token}"


def https_link(message: email.message.EmailMessage) -> str:
    """The one-click URL of a mail, checked to come first and with its Post field."""
    links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert links[0].startswith(f"{BASE_URL}u/") and links[1].startswith("mailto:"), links
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    return links[0]


# --- the one-click flow


def test_curl_post_leaves_at_once_a_get_changes_nothing_and_a_second_post_is_fine(
    server: RunningGateway, seeded: App
) -> None:
    bob = Unsubscribe(
        person_id(seeded, "bob@example.com"), Stop.LEAVE, (community_id(seeded, "design"),)
    )
    url = one_click_url(server, bob)
    path = url.removeprefix(server.web_origin)

    page = request(server, "GET", path)
    assert page.status == 200
    assert "Leave Design?" in page.text and '<form method="post">' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert membership(seeded, "design", "bob@example.com") is not None  # a GET never acts

    status, text = curl_post(url)
    assert status == 200 and "You have left Design" in text
    assert membership(seeded, "design", "bob@example.com") is None
    # Only that: bob stays in ux, carol in design.
    assert state(seeded) == [
        ("design", "carol@example.com", "instant"),
        ("ux", "bob@example.com", "instant"),
    ]
    again = request(server, "POST", path, ONE_CLICK)
    assert again.status == 200 and "You have left Design" in again.text
    assert "Set-Cookie" not in again.headers


def test_a_post_after_leaving_by_mail_answers_200(server: RunningGateway, seeded: App) -> None:
    carol = person_id(seeded, "carol@example.com")
    url = one_click_url(server, Unsubscribe(carol, Stop.LEAVE, (community_id(seeded, "design"),)))
    with transaction(seeded.sessions) as session:
        remove_members(session, get_community(session, "design"), ["carol@example.com"])
    assert curl_post(url)[0] == 200


@pytest.mark.parametrize(
    ("spoil", "status", "says"),
    [
        (lambda t: t[:-12], 400, "This link is not valid"),
        (lambda t: t[:50] + ("A" if t[50] != "A" else "B") + t[51:], 400, "This link is not valid"),
        (lambda t: "x" * 5000, 400, "This link is not valid"),
        (lambda t: Tokens(Fernet.generate_key(), 90).issue(Unsubscribe(1, Stop.LEAVE, (1,))), 400,
         "This link is not valid"),
    ],
    ids=["truncated", "forged", "too-long", "other-key"],
)  # fmt: skip
def test_a_bad_token_gets_a_400_page_with_help_and_changes_nothing(
    server: RunningGateway, seeded: App, spoil: Any, status: int, says: str
) -> None:
    before = state(seeded)
    bob = Unsubscribe(
        person_id(seeded, "bob@example.com"), Stop.LEAVE, (community_id(seeded, "design"),)
    )
    token = one_click_url(server, bob).rpartition("/")[2]
    for method, body in (("GET", None), ("POST", ONE_CLICK)):
        answer = request(server, method, f"/u/{spoil(token)}", body)
        assert (answer.status, says in answer.text) == (status, True), answer.text
        assert f"help@{DOMAIN}" in answer.text and "-leave@" in answer.text
    assert state(seeded) == before


def test_an_expired_token_gets_a_410_page_naming_the_address_to_write_to(
    server: RunningGateway, seeded: App
) -> None:
    before = state(seeded)
    bob = Unsubscribe(
        person_id(seeded, "bob@example.com"), Stop.LEAVE, (community_id(seeded, "design"),)
    )
    url = one_click_url(server, bob, at=time.time() - 91 * DAY)
    for method, body in (("GET", None), ("POST", ONE_CLICK)):
        answer = request(server, method, url.removeprefix(server.web_origin), body)
        assert answer.status == 410
        assert "This link has expired" in answer.text
        assert f"design-leave@{DOMAIN}" in answer.text
    assert state(seeded) == before


def test_a_post_without_the_one_click_body_changes_nothing(
    server: RunningGateway, seeded: App
) -> None:
    before = state(seeded)
    bob = Unsubscribe(
        person_id(seeded, "bob@example.com"), Stop.LEAVE, (community_id(seeded, "design"),)
    )
    path = one_click_url(server, bob).removeprefix(server.web_origin)
    assert request(server, "POST", path, "List-Unsubscribe=Yes").status == 400
    assert request(server, "POST", path).status == 400
    assert state(seeded) == before


# --- the mail that carries the links


def sink_mail(handler: Sink, recipient: str, kind: str) -> email.message.EmailMessage:
    """The one mail of a kind ("digest", "monthly-network") the sink got for `recipient`."""
    found = [
        parse_mail(data)
        for _, rcpt, data in handler.copies()
        if rcpt == recipient and kind in parse_mail(data)["Message-ID"]
    ]
    assert found, f"no {kind} mail for {recipient}"
    return found[-1]


def test_a_digest_carries_one_click_and_its_url_stops_the_digest_communities(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with transaction(seeded.sessions) as session:
        for slug in ("design", "ux"):
            community = get_community(session, slug)
            member = find_membership(session, community, "bob@example.com")
            assert member is not None
            member.delivery = DeliveryMode.DAILY
    due = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)  # 07:00 in Paris
    ingest_post(seeded, "design", subject="Colours", at=due - dt.timedelta(hours=5))
    ingest_post(seeded, "ux", subject="Fonts", at=due - dt.timedelta(hours=4))
    report = run_digests(seeded, Cadence.DAILY, due + dt.timedelta(minutes=1))
    assert [p.status for p in report.planned if p.address == "bob@example.com"] == ["queued"]
    with running(web_settings(settings, port)) as server:
        wait_for(lambda: any(rcpt == "bob@example.com" for _, rcpt, _ in handler.copies()))
        digest = sink_mail(handler, "bob@example.com", "digest.daily.2026-11-26")
        links = str(digest["List-Unsubscribe"])
        assert f"mailto:design-nomail@{DOMAIN}" in links and f"mailto:ux-nomail@{DOMAIN}" in links
        status, text = curl_post(local(server, https_link(digest)))
        assert status == 200 and "You will get no more mail from these communities" in text
    assert state(seeded) == [
        ("design", "bob@example.com", "none"),
        ("design", "carol@example.com", "instant"),
        ("ux", "bob@example.com", "none"),
    ]


def test_a_monthly_mail_carries_one_click_and_its_url_stops_the_monthly_mail(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    month = latest_month(utcnow() + dt.timedelta(days=31), settings)
    report = run_monthly(seeded, month.due + dt.timedelta(hours=1))
    assert ("bob@example.com", "queued") in [(p.address, p.status) for p in report.planned]
    with running(web_settings(settings, port)) as server:
        wait_for(lambda: any(rcpt == "bob@example.com" for _, rcpt, _ in handler.copies()))
        monthly = sink_mail(handler, "bob@example.com", "monthly-network")
        assert f"mailto:profile@{DOMAIN}" in str(monthly["List-Unsubscribe"])
        status, text = curl_post(local(server, https_link(monthly)))
        assert status == 200 and "no more monthly mail" in text
    with transaction(seeded.read_sessions) as session:
        bob, carol = (find_person(session, f"{n}@example.com") for n in ("bob", "carol"))
        assert bob is not None and carol is not None
        assert (bob.monthly_mail, carol.monthly_mail) == (False, True)
    assert membership(seeded, "design", "bob@example.com") is not None  # still a member


def post_copies(handler: Sink) -> dict[str, email.message.EmailMessage]:
    copies = [(rcpt, parse_mail(data)) for _, rcpt, data in handler.copies()]
    return {rcpt: m for rcpt, m in copies if m["Message-ID"] == "<m1@example.com>"}


def test_personal_copies_carry_each_members_own_url(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    personal = web_settings(settings, port, personal_copies=True, envelope="shared")
    with running(personal) as server:
        reply = server.send(post().as_bytes(), [f"design@{DOMAIN}"], "alice@example.com")
        assert reply.startswith("250")
        # (The scheduler may send this month's monthly mails too: only the post counts.)
        wait_for(lambda: len(post_copies(handler)) == 2)
        copies = post_copies(handler)
        # One transaction per recipient, even with shared envelopes.
        assert [
            len(recipients)
            for _, recipients, data in handler.received
            if b"<m1@example.com>" in data
        ] == [1, 1]
        urls = {address: https_link(copy) for address, copy in copies.items()}
        assert urls["bob@example.com"] != urls["carol@example.com"]
        tokens = Tokens.for_settings(server.settings)
        design = community_id(seeded, "design")
        for address, url in urls.items():
            assert tokens.read(url.rpartition("/")[2]) == Unsubscribe(
                person_id(seeded, address), Stop.LEAVE, (design,)
            )
        assert copies["bob@example.com"]["Subject"] == copies["carol@example.com"]["Subject"]
        assert curl_post(local(server, urls["bob@example.com"]))[0] == 200
    assert membership(seeded, "design", "bob@example.com") is None
    assert membership(seeded, "design", "carol@example.com") is not None


# --- the archive folder


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "c" / "design").mkdir(parents=True)
    (site / "index.html").write_text("<h1>Home</h1>", encoding="utf-8")
    (site / "files" / "ab").mkdir(parents=True)
    (site / "files" / "ab" / "notes.txt").write_text("notes", encoding="utf-8")
    (site / "c" / "design" / "index.html").write_text("<h1>Design</h1>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    (site / "escape").symlink_to(tmp_path / "secret.txt")
    return site


def test_the_archive_folder_is_served_when_asked_and_never_beyond_it(
    app: App, settings: Settings, archive: Path
) -> None:
    serving = dataclasses.replace(
        settings,
        archive=dataclasses.replace(settings.archive, out_dir=archive),
        web=dataclasses.replace(settings.web, serve_archive=True),
    )
    with running(serving) as server:
        home = request(server, "GET", "/")
        assert (home.status, home.text) == (200, "<h1>Home</h1>")
        assert home.headers["Content-Type"].startswith("text/html")
        assert home.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in home.headers["Content-Security-Policy"]
        assert "Content-Disposition" not in home.headers
        download = request(server, "GET", "/files/ab/notes.txt")
        assert (download.status, download.text) == (200, "notes")
        assert download.headers["Content-Disposition"] == "attachment"
        moved = request(server, "GET", "/c/design")
        assert (moved.status, moved.headers["Location"]) == (301, "/c/design/")
        assert request(server, "GET", "/c/design/").text == "<h1>Design</h1>"
        for path in ("/../secret.txt", "/c/../../secret.txt", "/%2e%2e/secret.txt",
                     "/c/%2E%2E%2F..%2Fsecret.txt", "/escape", "/nothing/"):  # fmt: skip
            answer = request(server, "GET", path)
            assert answer.status == 404 and "outside" not in answer.text, path
        # The one-click pages are still answered.
        assert request(server, "GET", "/u/forged").status == 400


def test_the_archive_folder_is_not_served_by_default(
    app: App, settings: Settings, archive: Path
) -> None:
    with running(
        dataclasses.replace(
            settings, archive=dataclasses.replace(settings.archive, out_dir=archive)
        )
    ) as server:
        assert request(server, "GET", "/").status == 404
        assert request(server, "GET", "/c/design/").status == 404


# --- start-up


def test_with_the_web_server_off_nothing_listens(app: App, settings: Settings) -> None:
    off = dataclasses.replace(settings, web=dataclasses.replace(settings.web, enabled=False))
    with running(off) as server, pytest.raises(ConnectionRefusedError):
        socket.create_connection((off.web.host, server.settings.web.port), timeout=5)


def test_a_taken_web_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "gateway.toml"
        config.write_text(
            f'[gateway]\ndata_dir = "data"\n[smtp]\nport = {free_port()}\n[web]\nport = {port}\n'
        )
        gateway("--config", str(config), "init", cwd=tmp_path)
        result = gateway("--config", str(config), "serve", cwd=tmp_path, expect=1)
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot listen on 127.0.0.1:{port} ([web]): Address already in use"
    )
