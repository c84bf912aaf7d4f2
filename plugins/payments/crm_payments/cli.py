"""``crm payments ...``: maintenance commands of the payments plugin."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("payments")
def payments():
    """Payments plugin: check and repair invoice balances."""


@payments.command("recompute")
@click.option("--dry-run", is_flag=True, help="only list the invoices whose received differs from their payments")
@with_appcontext
def recompute(dry_run):
    """Recompute received, balance and status of every invoice from its payments (after the
    plugin was disabled and received was edited by hand). Exit 1 on a dry run that finds some."""
    from crm.db import db
    from crm.plugins import get_registry
    from crm_payments.services import recompute_all
    registry = get_registry()
    registry.refresh(db.session)
    if not registry.is_enabled("payments"):
        raise click.ClickException("the payments plugin is disabled: enable it first (crm plugins enable payments)")
    with db.transaction() as session:
        wrong = recompute_all(session, fix=not dry_run)
    for number, stored, expected in wrong:
        click.echo(f"{number}: received {stored} -> {expected}")
    click.echo(f"{len(wrong)} invoice(s) {'differ' if dry_run else 'recomputed'}")
    if dry_run and wrong:
        raise SystemExit(1)
