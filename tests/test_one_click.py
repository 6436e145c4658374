"""One-click unsubscribe in outgoing mail (gateway.outbound.one_click and ListFields):
the URL first, List-Unsubscribe-Post only for https, a shared copy made personal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gateway.outbound.composer import ListFields
from gateway.outbound.mime import split_message
from gateway.outbound.one_click import OneClick
from gateway.settings import Settings
from gateway.settings import settings_from_dict
from gateway.web.tokens import Stop
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe

LEAVE = "mailto:design-leave@lists.example.com?subject=leave"
BOB = Unsubscribe(7, Stop.LEAVE, (1,))


def web_settings(tmp_path: Path, **web: object) -> Settings:
    return settings_from_dict({"gateway": {"data_dir": "data"}, "web": web}, base_dir=tmp_path)


def test_https_lists_the_url_first_and_announces_one_click() -> None:
    fields = ListFields(unsubscribe=(LEAVE,), one_click="https://lists.example.com/u/T").headers()
    assert ("List-Unsubscribe", f"<https://lists.example.com/u/T>, <{LEAVE}>") in fields
    assert ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click") in fields


def test_http_lists_the_url_without_the_post_field() -> None:
    # RFC 8058 3.1: List-Unsubscribe-Post only with an HTTPS URI.
    fields = dict(ListFields(unsubscribe=(LEAVE,), one_click="http://localhost:8080/u/T").headers())
    assert fields["List-Unsubscribe"] == f"<http://localhost:8080/u/T>, <{LEAVE}>"
    assert "List-Unsubscribe-Post" not in fields
    assert "List-Unsubscribe-Post" not in dict(ListFields(unsubscribe=(LEAVE,)).headers())


def test_a_url_names_the_person_under_base_url(tmp_path: Path) -> None:
    settings = web_settings(tmp_path, base_url="https://lists.example.com/gateway")
    url = OneClick(settings).url(BOB)
    assert url.startswith("https://lists.example.com/gateway/u/")
    token = url.rpartition("/")[2]
    assert Tokens.for_settings(settings).read(token) == BOB


def test_no_url_when_the_web_server_is_off(tmp_path: Path) -> None:
    settings = web_settings(tmp_path, enabled=False)
    assert OneClick(settings).url(BOB) == ""
    assert not (settings.gateway.data_dir / "unsubscribe.key").exists()


def shared_copy() -> bytes:
    return (
        b"From: alice@example.com\r\n"
        b"To: Design <design@lists.example.com>\r\n"
        b"List-Unsubscribe: <mailto:design-leave@lists.example.com?subject=leave>\r\n"
        b"List-Archive: <https://archive.example.com/t/1/>\r\n"
        b"Subject: hello\r\n"
        b"\r\n"
        b"List-Unsubscribe: this line is body, not a header\r\n"
    )


def test_a_personal_copy_has_its_url_and_the_post_field_and_nothing_else_changes(
    tmp_path: Path,
) -> None:
    settings = web_settings(tmp_path, base_url="https://lists.example.com/")
    copy = OneClick(settings).personal(shared_copy(), BOB)
    fields, body = split_message(copy)
    named = {f.name: f.raw for f in fields}
    unsubscribe = named["list-unsubscribe"].decode()
    assert unsubscribe.startswith("List-Unsubscribe: <https://lists.example.com/u/")
    assert unsubscribe.replace("\r\n ", " ").endswith(f", <{LEAVE}>\r\n")
    assert (
        named["list-unsubscribe-post"] == b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )
    assert [f.name for f in fields] == [
        "from", "to", "list-unsubscribe", "list-unsubscribe-post", "list-archive", "subject"
    ]  # fmt: skip
    assert body == b"List-Unsubscribe: this line is body, not a header\r\n"


def test_a_personal_copy_over_http_has_no_post_field(tmp_path: Path) -> None:
    settings = web_settings(tmp_path)
    copy = OneClick(settings).personal(shared_copy(), BOB)
    assert b"List-Unsubscribe: <http://localhost:8080/u/" in copy
    assert b"List-Unsubscribe-Post" not in copy
    off = dataclasses.replace(settings, web=dataclasses.replace(settings.web, enabled=False))
    assert OneClick(off).personal(shared_copy(), BOB) == shared_copy()
