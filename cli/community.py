"""`gateway community`: create, list, show, edit and close communities."""

from __future__ import annotations

import click

from cli.output import emit_fields
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community import communities
from gateway.store.models import DeliveryMode
from gateway.store.models import Kind
from gateway.store.models import Policy
from gateway.store.models import Visibility

KIND = click.Choice([kind.value for kind in Kind])
POLICY = click.Choice([policy.value for policy in Policy])
DELIVERY = click.Choice([mode.value for mode in DeliveryMode])
SHOW_LABELS = [
    ("Slug", "slug"),
    ("Name", "name"),
    ("Description", "description"),
    ("Kind", "kind"),
    ("Visibility", "visibility"),
    ("Policy", "policy"),
    ("Status", "status"),
    ("Subject prefix", "subject_prefix"),
    ("Default delivery", "default_delivery"),
    ("Replies go to", "reply_to"),
    ("Hold list mail", "hold_list_mail"),
    ("Fold thanks", "fold_thanks"),
    ("Members", "members"),
    ("Posts", "posts"),
    ("Last activity", "last_activity_at"),
    ("Owners", "owners"),
    ("Moderators", "moderators"),
    ("Created", "created_at"),
]
REPLY_TO_HELP = "Where replies go: 'community', 'sender' (the author) or an address."
HOLD_LIST_MAIL_HELP = (
    "Hold mail relayed from another list (its List-Id, Precedence: list or bulk) for the "
    "moderators."
)
FOLD_THANKS_HELP = (
    'Record a reply whose own text is only thanks or "+1" as a reaction on the message it '
    "answers, instead of sending it to every member."
)
ADDRESS_LABELS = {
    "post": "To post",
    "join": "To join",
    "leave": "To leave",
    "owner": "To reach owners",
    "instant": "Instant mail",
    "daily": "Daily digest",
    "weekly": "Weekly digest",
    "nomail": "No mail",
    "help": "Help",
}


@click.group()
def community() -> None:
    """Create and manage communities."""


@community.command()
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Design team'.")
@click.option("--kind", type=KIND, default=Kind.PROJECT.value, show_default=True)
@click.option("--description", default="", help="What the community is for.")
@click.option("--private", is_flag=True, help="Hide it from the archive and the help list.")
@click.option(
    "--policy",
    type=POLICY,
    default=Policy.MEMBERS.value,
    show_default=True,
    help="Who may post: anyone, members, members with moderation, or owners and moderators only.",
)
@click.option("--subject-prefix", help="Prefix of notification subjects [default: [SLUG]].")
@click.option(
    "--default-delivery",
    type=DELIVERY,
    default=DeliveryMode.INSTANT.value,
    show_default=True,
    help="Delivery of new members.",
)
@click.option("--reply-to", default="community", show_default=True, help=REPLY_TO_HELP)
@click.option(
    "--hold-list-mail/--no-hold-list-mail",
    default=False,
    show_default=True,
    help=HOLD_LIST_MAIL_HELP,
)
@click.option(
    "--fold-thanks/--no-fold-thanks", default=True, show_default=True, help=FOLD_THANKS_HELP
)
@pass_state
def create(
    state: CliState,
    slug: str,
    name: str,
    kind: str,
    description: str,
    private: bool,
    policy: str,
    subject_prefix: str | None,
    default_delivery: str,
    reply_to: str,
    hold_list_mail: bool,
    fold_thanks: bool,
) -> None:
    """Create the community SLUG (its address is SLUG@domain)."""
    with state.transaction() as session:
        created = communities.create_community(
            session,
            slug,
            name,
            kind=Kind(kind),
            description=description,
            visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
            policy=Policy(policy),
            subject_prefix=subject_prefix,
            default_delivery=DeliveryMode(default_delivery),
            reply_to=reply_to,
            hold_list_mail=hold_list_mail,
            fold_thanks=fold_thanks,
        )
        address = f"{created.slug}@{state.settings.gateway.domain}"
    click.echo(f"Created community {slug} ({address}).")


@community.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """List every community, open and closed."""
    domain = state.settings.gateway.domain
    with state.transaction() as session:
        found = communities.list_communities(session)
        activity = communities.community_activity(session, [c.id for c in found])
        rows = [communities.describe_community(c, activity[c.id], domain) for c in found]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows,
        [
            ("SLUG", "slug"),
            ("NAME", "name"),
            ("KIND", "kind"),
            ("VISIBILITY", "visibility"),
            ("POLICY", "policy"),
            ("MEMBERS", "members"),
            ("POSTS", "posts"),
            ("STATUS", "status"),
        ],
        empty="No communities yet: create one with `gateway community create SLUG --name NAME`.",
    )


@community.command()
@click.argument("slug")
@json_option
@pass_state
def show(state: CliState, slug: str, as_json: bool) -> None:
    """Show one community: settings, addresses, counts, owners."""
    domain = state.settings.gateway.domain
    with state.transaction() as session:
        found = communities.get_community(session, slug)
        details = communities.describe_community_details(session, found, domain)
    if as_json:
        emit_json(details)
        return
    emit_fields(
        details,
        SHOW_LABELS,
        extra=[
            (ADDRESS_LABELS[action], address) for action, address in details["addresses"].items()
        ],
    )


@community.command()
@click.argument("slug")
@click.option("--name")
@click.option("--kind", type=KIND)
@click.option("--description")
@click.option("--private/--public", default=None, help="Change the visibility.")
@click.option("--policy", type=POLICY)
@click.option("--subject-prefix")
@click.option("--default-delivery", type=DELIVERY)
@click.option("--reply-to", help=REPLY_TO_HELP)
@click.option("--hold-list-mail/--no-hold-list-mail", default=None, help=HOLD_LIST_MAIL_HELP)
@click.option("--fold-thanks/--no-fold-thanks", default=None, help=FOLD_THANKS_HELP)
@pass_state
def edit(
    state: CliState,
    slug: str,
    name: str | None,
    kind: str | None,
    description: str | None,
    private: bool | None,
    policy: str | None,
    subject_prefix: str | None,
    default_delivery: str | None,
    reply_to: str | None,
    hold_list_mail: bool | None,
    fold_thanks: bool | None,
) -> None:
    """Change a community's settings; options not given are left as they are."""
    changes = communities.CommunityChanges(
        name=name,
        description=description,
        kind=Kind(kind) if kind else None,
        visibility=None
        if private is None
        else (Visibility.PRIVATE if private else Visibility.PUBLIC),
        policy=Policy(policy) if policy else None,
        subject_prefix=subject_prefix,
        default_delivery=DeliveryMode(default_delivery) if default_delivery else None,
        reply_to=reply_to,
        hold_list_mail=hold_list_mail,
        fold_thanks=fold_thanks,
    )
    if changes == communities.CommunityChanges():
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    with state.transaction() as session:
        communities.edit_community(session, slug, changes)
    click.echo(f"Updated community {slug}.")


@community.command()
@click.argument("slug")
@pass_state
def close(state: CliState, slug: str) -> None:
    """Stop taking posts; members, history and archive stay."""
    with state.transaction() as session:
        communities.close_community(session, slug)
    click.echo(f"Closed community {slug}: new posts are refused; `community reopen` undoes it.")


@community.command()
@click.argument("slug")
@pass_state
def reopen(state: CliState, slug: str) -> None:
    """Take posts again in a closed community."""
    with state.transaction() as session:
        communities.reopen_community(session, slug)
    click.echo(f"Reopened community {slug}.")
