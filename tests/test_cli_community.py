"""`gateway community`: create, list, show, edit, close, through the real CLI."""

from __future__ import annotations

import pytest

from tests.conftest import GatewayCli

COMMUNITY_KEYS = {
    "slug", "name", "description", "kind", "visibility", "policy", "subject_prefix",
    "default_delivery", "reply_to", "hold_list_mail", "fold_thanks", "address", "status",
    "created_at", "closed_at", "members", "posts", "last_activity_at",
}  # fmt: skip


def test_create_then_list_and_show_in_the_documented_shape(gateway_cli: GatewayCli) -> None:
    result = gateway_cli(
        "community", "create", "design", "--name", "Design team", "--kind", "practice",
        "--description", "All things design", "--private", "--policy", "moderated",
    )  # fmt: skip
    assert "design@lists.example.com" in result.stdout

    [listed] = gateway_cli.json("community", "list")
    assert set(listed) == COMMUNITY_KEYS
    assert listed | {"created_at": None} == {
        "slug": "design", "name": "Design team", "description": "All things design",
        "kind": "practice", "visibility": "private", "policy": "moderated",
        "subject_prefix": "[design]", "default_delivery": "instant", "reply_to": "community",
        "hold_list_mail": False, "fold_thanks": True,
        "address": "design@lists.example.com", "status": "open", "created_at": None,
        "closed_at": None, "members": 0, "posts": 0, "last_activity_at": None,
    }  # fmt: skip

    shown = gateway_cli.json("community", "show", "design")
    assert set(shown) == COMMUNITY_KEYS | {"addresses", "owners", "moderators"}
    assert shown["addresses"]["post"] == "design@lists.example.com"
    assert shown["addresses"]["nomail"] == "design-nomail@lists.example.com"
    assert shown["owners"] == [] and shown["moderators"] == []


def test_text_output_is_a_table_people_can_read(gateway_cli: GatewayCli) -> None:
    assert "No communities yet" in gateway_cli("community", "list").stdout
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("community", "create", "ops", "--name", "Operations", "--kind", "functional")
    lines = gateway_cli("community", "list").stdout.splitlines()
    assert lines[0].split() == [
        "SLUG", "NAME", "KIND", "VISIBILITY", "POLICY", "MEMBERS", "POSTS", "STATUS",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["design", "ops"]
    shown = gateway_cli("community", "show", "ops").stdout
    assert "Kind:" in shown and "functional" in shown
    assert "ops-join@lists.example.com" in shown


def test_edit_changes_only_what_is_given(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design", "--description", "Old")
    gateway_cli(
        "community", "edit", "design", "--name", "Design guild", "--private",
        "--policy", "announce", "--subject-prefix", "[DG]", "--default-delivery", "weekly",
    )  # fmt: skip
    shown = gateway_cli.json("community", "show", "design")
    assert shown["name"] == "Design guild"
    assert shown["description"] == "Old"
    assert shown["visibility"] == "private"
    assert shown["policy"] == "announce"
    assert shown["subject_prefix"] == "[DG]"
    assert shown["default_delivery"] == "weekly"
    gateway_cli("community", "edit", "design", "--public")
    assert gateway_cli.json("community", "show", "design")["visibility"] == "public"


def test_hold_list_mail_is_set_at_creation_changed_and_shown(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design", "--hold-list-mail")
    assert gateway_cli.json("community", "show", "design")["hold_list_mail"] is True
    assert "Hold list mail:" in gateway_cli("community", "show", "design").stdout
    gateway_cli("community", "edit", "design", "--no-hold-list-mail")
    assert gateway_cli.json("community", "show", "design")["hold_list_mail"] is False
    gateway_cli("community", "edit", "design", "--hold-list-mail")
    assert gateway_cli.json("community", "show", "design")["hold_list_mail"] is True


def test_fold_thanks_is_on_by_default_set_at_creation_changed_and_shown(
    gateway_cli: GatewayCli,
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("community", "create", "ops", "--name", "Ops", "--no-fold-thanks")
    assert gateway_cli.json("community", "show", "design")["fold_thanks"] is True
    assert gateway_cli.json("community", "show", "ops")["fold_thanks"] is False
    assert "Fold thanks:" in gateway_cli("community", "show", "design").stdout
    gateway_cli("community", "edit", "design", "--no-fold-thanks")
    assert gateway_cli.json("community", "show", "design")["fold_thanks"] is False
    assert gateway_cli.json("community", "show", "design")["hold_list_mail"] is False
    gateway_cli("community", "edit", "ops", "--fold-thanks")
    assert gateway_cli.json("community", "show", "ops")["fold_thanks"] is True


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("sender", "sender"),
        ("Community", "community"),
        ("Help-Desk@Example.COM", "help-desk@example.com"),
    ],
)
def test_reply_to_is_community_sender_or_an_address(
    gateway_cli: GatewayCli, given: str, stored: str
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    assert gateway_cli.json("community", "show", "design")["reply_to"] == "community"
    gateway_cli("community", "edit", "design", "--reply-to", given)
    assert gateway_cli.json("community", "show", "design")["reply_to"] == stored


def test_a_reply_to_that_is_no_address_is_refused(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    error = gateway_cli.error("community", "edit", "design", "--reply-to", "the boss")
    assert "reply-to must be 'community', 'sender' or an address" in error
    assert gateway_cli.json("community", "show", "design")["reply_to"] == "community"


def test_edit_without_options_is_a_usage_error(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    assert "nothing to change" in gateway_cli.error("community", "edit", "design", expect=2)


def test_close_and_reopen(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("member", "add", "design", "a@example.com")
    gateway_cli("community", "close", "design")
    closed = gateway_cli.json("community", "show", "design")
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["members"] == 1  # closing keeps the members
    gateway_cli("community", "reopen", "design")
    reopened = gateway_cli.json("community", "show", "design")
    assert reopened["status"] == "open" and reopened["closed_at"] is None


@pytest.mark.parametrize(
    ("slug", "complaint"),
    [
        ("Design", "lowercase letters"),
        ("d", "2 to 64 characters"),
        ("x" * 65, "2 to 64 characters"),
        ("design-", "single hyphens"),
        ("de--sign", "single hyphens"),
        ("design_team", "lowercase letters"),
        ("design-join", "reserved"),
        ("design-nomail", "reserved"),
        ("help", "reserved"),
        ("postmaster", "reserved"),
        ("mailer-daemon", "reserved"),
    ],
)
def test_a_bad_slug_is_refused_with_the_reason(
    gateway_cli: GatewayCli, slug: str, complaint: str
) -> None:
    assert complaint in gateway_cli.error("community", "create", slug, "--name", "X")
    assert gateway_cli.json("community", "list") == []


def test_a_duplicate_slug_is_refused_and_the_first_is_kept(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "First")
    assert "already exists" in gateway_cli.error("community", "create", "design", "--name", "2")
    assert gateway_cli.json("community", "show", "design")["name"] == "First"


@pytest.mark.parametrize("command", ["show", "edit", "close", "reopen"])
def test_an_unknown_community_is_one_clear_line(gateway_cli: GatewayCli, command: str) -> None:
    extra = ["--name", "X"] if command == "edit" else []
    message = gateway_cli.error("community", command, "nope", *extra)
    assert "no community 'nope'" in message


@pytest.mark.parametrize(
    "args",
    [
        ["community", "create", "design"],  # --name is required
        ["community", "create", "design", "--name", "D", "--kind", "galaxy"],
        ["community", "create", "design", "--name", "D", "--policy", "anyone"],
        ["community", "create", "design", "--name", "D", "--bogus"],
        ["community", "list", "extra"],
        ["community", "frobnicate"],
    ],
)
def test_bad_arguments_are_usage_errors(gateway_cli: GatewayCli, args: list[str]) -> None:
    result = gateway_cli(*args, expect=2)
    assert "Traceback" not in result.output
    assert "Error:" in result.stderr
