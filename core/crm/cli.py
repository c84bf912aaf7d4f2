"""The ``crm`` command line (a Flask CLI group).

Every command prints a clear message and exits non-zero when it fails.
Plugins add commands through the ``crm_register_commands`` hook.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from crm.errors import CRMError


def _create_app():
    from crm import create_app
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
@click.version_option(package_name="crm-core", prog_name="crm")
def cli():
    """CRM for order management: products, orders, invoices, stock, plugins."""


def domain_errors(command):
    """Turn the domain's refusals into a message and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CRMError as exc:
            details = [f"{f}: {'; '.join(r)}" for f, r in exc.fields.items()]
            lines = [exc.message] + [d for d in details if d != exc.message]
            raise click.ClickException("\n  ".join(lines)) from exc
    return wrapper


# --- db -----------------------------------------------------------------------

@cli.group()
def db():
    """Create and migrate the database (core and plugins)."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Create or migrate the core's tables, then each plugin's, in dependency order."""
    from crm import migrate
    for target in migrate.upgrade_all(current_app):
        click.echo(f"{target}: up to date")


@db.command("downgrade")
@click.argument("target")
@click.argument("revision", default="base")
@with_appcontext
def db_downgrade(target, revision):
    """Migrate TARGET (core or a plugin id) down to REVISION (default: base, dropping its tables)."""
    from crm import migrate
    try:
        migrate.downgrade(current_app, target, revision)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc
    click.echo(f"{target}: at {revision}")


@db.command("current")
@with_appcontext
def db_current():
    """Show the revision of the core and of each plugin."""
    from crm import migrate
    for target, rev in migrate.current_revisions(current_app).items():
        click.echo(f"{target}: {rev or '(empty)'}")


@db.command("pending")
@with_appcontext
def db_pending():
    """List what `crm db upgrade` would migrate; exit 1 if anything is pending."""
    from crm import migrate
    behind = migrate.pending(current_app)
    for target in behind:
        click.echo(f"{target}: pending")
    if behind:
        raise SystemExit(1)
    click.echo("nothing pending")


@db.command("revision")
@click.argument("target")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(target, message):
    """Autogenerate a migration for TARGET (core or a plugin id) from its models."""
    from crm import migrate
    migrate.revision(current_app, target, message)


# --- users --------------------------------------------------------------------

@cli.group()
def users():
    """Manage users."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "sales", "purchasing", "warehouse", "accounting"]))
@click.option("--password", required=True, help="at least 8 characters")
@click.option("--full-name", default="")
@click.option("--email", default="")
@click.option("--language", default="en", type=click.Choice(["en", "es"]))
@with_appcontext
@domain_errors
def users_create(username, role, password, full_name, email, language):
    """Create a user with a role."""
    from crm.db import db as database
    from crm.services.users import create_user
    with database.transaction() as session:
        user = create_user(session, username, password, role, full_name=full_name, email=email, language=language)
    click.echo(f"created user {user.username} ({user.role})")


@users.command("list")
@with_appcontext
def users_list():
    """List users."""
    from sqlalchemy import select
    from crm.db import db as database
    from crm.models import User
    for user in database.session.scalars(select(User).order_by(User.username)):
        click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'inactive'}")


# --- demo -----------------------------------------------------------------------

@cli.command("demo")
@with_appcontext
@domain_errors
def demo():
    """Load demo data (a small trading business); running it again adds nothing."""
    from crm.db import db as database
    from crm.demo import load_demo
    from crm.plugins import get_registry
    with database.transaction() as session:
        created = load_demo(session)
        get_registry().refresh(session)
        for counts in get_registry().call_in_order("crm_demo_data", session=session):
            created.update(counts or {})
    click.echo("demo data: " + ", ".join(f"{n} {what}" for what, n in created.items()))
    click.echo("users: admin, sales, purchasing, warehouse, accounting (password: <username>1234)")


# --- plugins --------------------------------------------------------------------

@cli.group()
def plugins():
    """List, enable, disable and purge plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@with_appcontext
def plugins_list(as_json):
    """Installed plugins: id, version, enabled, hooks implemented, error."""
    from crm.db import db as database
    from crm.plugins import get_registry
    registry = get_registry()
    registry.refresh(database.session)
    rows = registry.describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins installed")
    for row in rows:
        state = "error" if row["error"] else ("enabled" if row["enabled"] else "disabled")
        click.echo(f"{row['name']}\t{row['version']}\t{state}\thooks: {', '.join(row['hooks']) or '-'}")
        if row["error"]:
            click.echo(f"\terror: {row['error']}")


def _set_enabled(plugin_id: str, enabled: bool) -> None:
    from crm.db import db as database
    from crm.plugins import get_registry
    from crm.services.plugin_admin import set_enabled
    with database.transaction() as session:
        set_enabled(session, get_registry(), plugin_id, enabled)
    click.echo(f"{plugin_id}: {'enabled' if enabled else 'disabled'}")


@plugins.command("enable")
@click.argument("plugin_id")
@with_appcontext
@domain_errors
def plugins_enable(plugin_id):
    """Enable an installed plugin."""
    _set_enabled(plugin_id, True)


@plugins.command("disable")
@click.argument("plugin_id")
@with_appcontext
@domain_errors
def plugins_disable(plugin_id):
    """Disable a plugin: its hooks stop, its pages answer 404, its data stays."""
    _set_enabled(plugin_id, False)


@plugins.command("purge")
@click.argument("plugin_id")
@click.option("--confirm", "confirmation", default=None,
              help="the plugin id again, to confirm without a prompt")
@with_appcontext
def plugins_purge(plugin_id, confirmation):
    """Drop every table of PLUGIN_ID and its settings. Irreversible; asks to type the id."""
    from crm.db import db as database
    from crm.db import core_table_names
    from crm.plugins import PluginRegistry
    from crm.services.plugin_admin import plugin_tables, purge
    problem = PluginRegistry._id_problem(plugin_id, core_table_names())
    if problem:
        raise click.ClickException(f"refused: {problem}")
    engine = database.engine()
    with engine.connect() as connection:
        tables = plugin_tables(connection, plugin_id)
    if not tables:
        raise click.ClickException(f"no tables of plugin {plugin_id!r} in the database")
    click.echo(f"This drops {len(tables)} table(s) of {plugin_id}: {', '.join(tables)}")
    if confirmation is None:
        confirmation = click.prompt(f"Type {plugin_id} to confirm", default="", show_default=False)
    if confirmation != plugin_id:
        raise click.ClickException("confirmation did not match; nothing was dropped")
    with engine.begin() as connection:
        dropped = purge(connection, plugin_id)
    click.echo(f"dropped {', '.join(dropped)}")


# --- stock ----------------------------------------------------------------------

@cli.group()
def stock():
    """The stock ledger."""


@stock.command("verify")
@with_appcontext
def stock_verify():
    """Check that cached on-hand and reserved quantities equal the ledger; exit 1 if not."""
    from crm.db import db as database
    from crm.services.stock import verify
    problems = verify(database.session)
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    click.echo("stock quantities agree with the ledger")


# --- jobs -----------------------------------------------------------------------

@cli.group()
def jobs():
    """Scheduled jobs (recurring invoices, scheduled payments, syncs)."""


def _parse_day(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD") from exc


@jobs.command("run-due")
@click.option("--today", callback=_parse_day, help="the day to run for (YYYY-MM-DD); default: today")
@click.option("--job", "only", default=None, help="run only this job")
@with_appcontext
@domain_errors
def jobs_run_due(today, only):
    """Run every due job once."""
    from crm.jobs import JobsFailed, all_jobs, run_due
    if only and only not in {j.name for j in all_jobs(current_app)}:
        raise click.ClickException(f"unknown job {only!r}")
    try:
        results = run_due(current_app._get_current_object(), today, only)
    except JobsFailed as failed:
        for name, summary in failed.results.items():
            click.echo(f"{name}: {summary}")
        raise click.ClickException("failed (rolled back): " + str(failed)) from failed
    for name, summary in results.items():
        click.echo(f"{name}: {summary}")


@jobs.command("list")
@with_appcontext
def jobs_list():
    """The scheduled jobs of the core and the enabled plugins."""
    from crm.db import db as database
    from crm.jobs import all_jobs
    from crm.plugins import get_registry
    get_registry().refresh(database.session)
    for job in all_jobs(current_app):
        click.echo(f"{job.name}\tevery {job.every_minutes} min")


@cli.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32), help="worker threads")
@with_appcontext
def worker(workers):
    """Run queued background tasks and every scheduled job on its interval."""
    from crm.worker import run_worker
    app = current_app._get_current_object()
    click.echo(f"worker: queue {'redis ' + app.config['REDIS_URL'] if app.config.get('REDIS_URL') else 'sqlite'}"
               f", {workers} threads; Ctrl+C to stop")
    run_worker(app, workers)


# --- plugin commands ------------------------------------------------------------

def _add_plugin_commands() -> None:
    from crm.plugins import PluginRegistry, installed_candidates
    import crm.models  # noqa: F401
    from crm.db import core_table_names
    only = os.environ.get("CRM_PLUGINS")
    only = [p.strip() for p in only.split(",") if p.strip()] if only is not None else None
    registry = PluginRegistry(installed_candidates(), only=only, core_tables=core_table_names())
    for plugin_id in registry.order:  # a broken plugin must not take the whole command line down
        try:
            registry.call_one(plugin_id, "crm_register_commands", cli=cli)
        except Exception as exc:  # noqa: BLE001
            click.echo(f"warning: plugin {plugin_id} could not add its commands: {exc}", err=True)


_add_plugin_commands()


def main() -> None:
    cli(prog_name="crm")


if __name__ == "__main__":
    main()
