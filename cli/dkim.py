"""`gateway dkim keygen`: a signing key beside the configuration, signing turned on in
it, and the DNS record to publish."""

from __future__ import annotations

import click

from cli.state import CliState
from cli.state import pass_state
from gateway.outbound.dkim_config import edited_config
from gateway.outbound.dkim_config import replace_config
from gateway.outbound.dkim_keys import generate
from gateway.outbound.dkim_keys import key_paths
from gateway.outbound.dkim_keys import record_name
from gateway.outbound.dkim_keys import txt_strings
from gateway.outbound.dkim_keys import write_key_pair
from gateway.settings import CHECKS


@click.group()
def dkim() -> None:
    """DKIM signing of the mail the gateway sends (see docs/deliverability.md)."""


def _selector(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        checked: str = CHECKS[("dkim", "selector")](value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return checked


@dkim.command()
@click.option(
    "--selector",
    callback=_selector,
    help="The key's selector (default: [dkim] selector); a new one to rotate keys.",
)
@click.option(
    "--bits",
    type=click.IntRange(1024, 4096),
    default=2048,
    show_default=True,
    help="RSA key size.",
)
@click.option("--force", is_flag=True, help="Replace the key files of that selector.")
@pass_state
def keygen(state: CliState, selector: str | None, bits: int, force: bool) -> None:
    """Write a key pair beside the configuration, turn signing on in it, and print the
    DNS TXT record to publish."""
    settings = state.settings
    config = state.config_path
    selector = selector or settings.dkim.selector
    private, public = key_paths(config.parent, selector)
    key_file = private.relative_to(config.parent).as_posix()
    # Checked first: a configuration it cannot edit leaves no key files behind.
    edited = edited_config(config, {"sign": True, "selector": selector, "key_file": key_file})
    pair = generate(bits)
    write_key_pair(pair, private, public, force=force)
    replace_config(config, edited)
    name = record_name(selector, settings.gateway.domain)
    click.echo(f"Wrote {private} (the private key, mode 0600) and {public}.")
    click.echo(
        f'Signing is on in {config}: [dkim] sign = true, selector = "{selector}", '
        f'key_file = "{key_file}".'
    )
    click.echo("Publish this DNS TXT record, then (re)start `gateway serve`:")
    click.echo(f"  name:  {name}")
    click.echo(f"  value: {pair.txt_value}")
    click.echo("In a zone file, as strings of at most 255 octets:")
    strings = "\n    ".join(f'"{piece}"' for piece in txt_strings(pair.txt_value))
    click.echo(f"{name}. IN TXT (\n    {strings} )")
