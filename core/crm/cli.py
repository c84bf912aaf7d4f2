"""The ``crm`` command line (a Flask CLI group).

Every command prints a clear message and exits non-zero when it fails.
Plugins add commands through the ``crm_register_commands`` hook.
"""
from __future__ import annotations

import functools
import json
import os

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from crm.errors import CRMError, DatabaseUnavailable


def _create_app():
    from crm import create_app
    return create_app()


class CRMGroup(FlaskGroup):
    """The ``crm`` group: a database that cannot be reached is one line and exit code 1, from any command."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DatabaseUnavailable as exc:
            raise click.ClickException(f"the database cannot be reached: {exc.detail}") from exc


@click.group(cls=CRMGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
@click.version_option(package_name="crm-core", prog_name="crm")
def cli():
    """CRM for order management: products, orders, invoices, stock, plugins."""


def domain_errors(command):
    """Turn the domain's refusals into a message and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DatabaseUnavailable:
            raise  # the group says it, with where and why
        except CRMError as exc:
            details = [f"{f}: {'; '.join(r)}" for f, r in exc.fields.items()]
            lines = [exc.message] + [d for d in details if d != exc.message]
            raise click.ClickException("\n  ".join(lines)) from exc
    return wrapper


def require_database() -> None:
    """Connect once, so that a command whose first steps touch no database (reading a file,
    running pip) says the database cannot be reached before doing them."""
    from crm.db import db as database
    with database.engine().connect():
        pass


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


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
@domain_errors
def db_backup(file):
    """Write a backup of the database (core and plugins) and the queue's pending tasks to FILE.
    Safe while the server runs. SQLite: the online backup API; PostgreSQL: pg_dump."""
    from crm.backup import backup
    summary = backup(current_app._get_current_object(), file)
    click.echo(f"backup of the {summary.database} database written to {file} "
               f"({summary.queued_tasks} queued task(s); core at {summary.revisions.get('core')})")


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
@domain_errors
def db_restore(file, yes):
    """Replace the database and the queue's pending tasks with the backup in FILE. Stop the web
    server and the workers first. SQLite: the backup API; PostgreSQL: pg_restore."""
    from crm import migrate
    from crm.backup import read_summary, restore
    from crm.db import db as database
    app = current_app._get_current_object()
    with database.engine(app).connect():  # unreachable: said before anything else
        pass
    summary = read_summary(file)
    where = database.engine(app).url.render_as_string(hide_password=True)
    click.echo(f"{file}: a backup of a {summary.database} database made {summary.created_at}, "
               f"{summary.queued_tasks} queued task(s)")
    if not yes and not click.confirm(f"Replace everything in {where} with it? (stop the server and the "
                                     "workers first)", default=False):
        raise click.ClickException("nothing was restored")
    restore(app, file)
    click.echo(f"restored into {where}")
    app.extensions.pop("crm.migration_heads", None)
    behind = migrate.pending(app)
    if behind:
        click.echo(f"the backup is of older code: run `crm db upgrade` ({', '.join(behind)})")


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


@users.command("set-password")
@click.argument("username")
@click.option("--password", required=True, help="at least 8 characters")
@with_appcontext
@domain_errors
def users_set_password(username, password):
    """Set a user's password; their sessions and API tokens end."""
    from sqlalchemy import select

    from crm.db import db as database
    from crm.errors import NotFound
    from crm.models import User
    from crm.services.users import set_password
    with database.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        set_password(session, user, password)
    click.echo(f"password of {username} changed; their sessions and API tokens are ended")


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
        for counts in get_registry().hook.crm_demo_data(session=session):
            created.update(counts or {})
    click.echo("demo data: " + ", ".join(f"{n} {what}" for what, n in created.items()))
    click.echo("users: admin, sales, purchasing, warehouse, accounting (password: <username>1234)")


# --- plugins --------------------------------------------------------------------

@cli.group()
def plugins():
    """Install, list, enable, disable, purge, uninstall and scaffold plugins."""


def _plugin_state(row: dict, pending: set[str]) -> str:
    if row["incompatible"]:
        return "incompatible"
    if row["error"]:
        return "error"
    state = "enabled" if row["enabled"] else "disabled"
    return state + (", migrations pending" if row["name"] in pending else "")


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@with_appcontext
def plugins_list(as_json):
    """Installed plugins: id, version, state, hooks implemented, error (why one was not loaded)."""
    from crm.db import db as database
    from crm.plugin_tools import migrations_pending
    from crm.plugins import get_registry
    registry = get_registry()
    registry.refresh(database.session)
    database.session.rollback()  # SQLite: its transaction would keep the migrations' reads waiting
    rows = registry.describe()
    pending = migrations_pending(current_app._get_current_object())
    for row in rows:
        row["migrations_pending"] = row["name"] in pending
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins installed")
    for row in rows:
        click.echo(f"{row['name']}\t{row['version']}\t{_plugin_state(row, pending)}\t"
                   f"hooks: {', '.join(row['hooks']) or '-'}")
        if row["error"]:
            click.echo(f"\terror: {row['error']}")


@plugins.command("enable")
@click.argument("plugin_id")
@with_appcontext
@domain_errors
def plugins_enable(plugin_id):
    """Enable an installed plugin, running its pending migrations first (all or none)."""
    from crm.plugin_tools import enable
    migrated = enable(current_app._get_current_object(), plugin_id)
    click.echo(f"{plugin_id}: enabled" + (" (its migrations ran)" if migrated else ""))


@plugins.command("disable")
@click.argument("plugin_id")
@with_appcontext
@domain_errors
def plugins_disable(plugin_id):
    """Disable a plugin: its hooks stop, its pages answer 404, its data stays."""
    from crm.db import db as database
    from crm.plugins import get_registry
    from crm.services.plugin_admin import set_enabled
    with database.transaction() as session:
        set_enabled(session, get_registry(), plugin_id, False)
    click.echo(f"{plugin_id}: disabled")


def _confirm_purge(plugin_id: str, confirmation: str | None) -> None:
    """Show what purging drops (or why it is refused) and ask for the id typed back."""
    from crm.db import core_table_names, db as database
    from crm.plugins import PluginRegistry, get_registry
    from crm.services.plugin_admin import purge_plan
    problem = PluginRegistry._id_problem(plugin_id, core_table_names())
    if problem:
        raise click.ClickException(f"refused: {problem}")
    with database.engine().connect() as connection:
        plan = purge_plan(connection, get_registry(), plugin_id)
    if not plan.tables:
        raise click.ClickException(f"no tables of plugin {plugin_id!r} in the database")
    if plan.blockers:
        raise click.ClickException(f"purging plugin {plugin_id!r} is refused: " + "; ".join(plan.blockers))
    click.echo(f"This drops {len(plan.tables)} table(s) of {plugin_id}: "
               + ", ".join(f"{name} ({rows} rows)" for name, rows in plan.tables))
    if confirmation is None:
        confirmation = click.prompt(f"Type {plugin_id} to confirm", default="", show_default=False)
    if confirmation != plugin_id:
        raise click.ClickException("confirmation did not match; nothing was dropped")


@plugins.command("purge")
@click.argument("plugin_id")
@click.option("--confirm", "confirmation", default=None,
              help="the plugin id again, to confirm without a prompt")
@with_appcontext
def plugins_purge(plugin_id, confirmation):
    """Drop every table of PLUGIN_ID and its settings. Irreversible; asks to type the id; refused
    while an enabled plugin requires it or other tables' rows refer to its rows."""
    from crm.db import db as database
    from crm.services.plugin_admin import purge
    _confirm_purge(plugin_id, confirmation)
    with database.engine().begin() as connection:
        dropped = purge(connection, plugin_id)
    click.echo(f"dropped {', '.join(dropped)}")


@plugins.command("install")
@click.argument("spec")
@with_appcontext
@domain_errors
def plugins_install(spec):
    """Install or upgrade a plugin -- SPEC is a name on the package index, a wheel file or a
    source folder -- into this environment with pip, run its migrations and enable it."""
    from crm import plugin_tools
    require_database()  # before pip installs anything: its migrations and enabling need it
    app = current_app._get_current_object()
    done = plugin_tools.install(app, spec, echo=click.echo)
    click.echo(plugin_tools.restart_advice(app, upgraded=done.previous_version is not None))


@plugins.command("uninstall")
@click.argument("plugin_id")
@click.option("--purge", "purge_data", is_flag=True, help="also drop its tables (asks to type the id)")
@click.option("--confirm", "confirmation", default=None, help="with --purge: the plugin id again, without a prompt")
@with_appcontext
@domain_errors
def plugins_uninstall(plugin_id, purge_data, confirmation):
    """Disable PLUGIN_ID, optionally drop its tables, and uninstall its distribution with pip.
    Without --purge its data stays (installing it again brings it back)."""
    from crm import plugin_tools
    app = current_app._get_current_object()
    if purge_data:
        _confirm_purge(plugin_id, confirmation)
    plugin_tools.uninstall(app, plugin_id, purge=purge_data, echo=click.echo)
    click.echo(plugin_tools.restart_advice(app, upgraded=False))


@plugins.command("new")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="the folder to create (default: ./crm-NAME)")
@click.option("--author", default="", help="the Author of its metadata")
def plugins_new(name, directory, author):
    """Create a working plugin distribution NAME (its id: lower case letters, digits and _) with
    an entry point, a page, an API endpoint, a table and its first migration, Spanish
    translations and tests: `pip install -e FOLDER`, then `pytest` in it."""
    from crm.scaffold import ScaffoldError, scaffold
    try:
        folder = scaffold(name, directory, author=author)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {folder}")
    click.echo(f"next: pip install -e {folder} && (cd {folder} && pytest) && crm plugins enable {name}")


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


@stock.command("replenish")
@click.option("--product", "product_ids", multiple=True, type=click.IntRange(1, 2**31 - 1),
              help="only this product (repeatable; default: every low product)")
@click.option("--dry-run", is_flag=True, help="say what would be ordered; draft nothing")
@with_appcontext
@domain_errors
def stock_replenish(product_ids, dry_run):
    """Draft a purchase order per vendor for the shortfall of the low products (never approved)."""
    from crm.db import db as database
    from crm.services.replenishment import replenish
    with database.transaction() as session:
        result = replenish(session, product_ids or None, dry_run=dry_run)
        numbers = {vendor_id: order.number for vendor_id, order in zip(result.planned, result.orders)}
        for vendor_id, needs in result.planned.items():
            click.echo(f"{numbers.get(vendor_id, 'would draft')}\tvendor {vendor_id}\t"
                       + ", ".join(f"{need.quantity.normalize():f} x {need.sku or need.name}" for need in needs))
        for need in result.without_vendor:
            click.echo(f"not ordered\t{need.sku or need.name}: no vendor (set the product's vendor)")
        if dry_run:
            session.rollback()
    if not result.planned:
        click.echo("nothing to order: what is on its way covers every low product with a vendor")


@stock.command("merge-locations")
@click.option("--plugin", "plugin_id", required=True, help="the plugin whose stock locations are merged")
@with_appcontext
@domain_errors
def stock_merge_locations(plugin_id):
    """Bring the stock, stock moves and reservations at PLUGIN's stock locations to the default
    location (each product's totals unchanged), so that the plugin may be purged. Refused while
    the plugin is enabled."""
    from crm.db import db as database
    from crm.plugins import get_registry
    from crm.services.stock_merge import merge_into_default
    with database.transaction() as session:
        merged = merge_into_default(session, plugin_id, enabled=plugin_id in get_registry().enabled)
    if not merged.locations:
        click.echo(f"plugin {plugin_id!r} has no stock locations: nothing to merge")
        return
    click.echo(f"merged {merged.locations} stock location(s) of {plugin_id} into the default location: "
               f"{merged.moves} move(s), the stock of {merged.products} product(s), "
               f"{merged.lines} sales order line(s)")


# --- jobs -----------------------------------------------------------------------

@cli.group()
def jobs():
    """Scheduled jobs (recurring invoices, scheduled payments, syncs)."""


def _parse_day(_ctx, _param, value):
    from crm import dates
    if value is None:
        return None
    try:
        return dates.parse_date(value)
    except dates.OutOfRange as exc:
        raise click.BadParameter(dates.range_message()) from exc
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD") from exc


class WholeNumber(click.ParamType):
    """A whole number from ``low`` to ``high`` typed with ASCII digits (click's own INT takes
    ``"٣"`` or ``"1_000"``, as Python's int() does)."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value, param, ctx):
        from crm.money import parse_whole
        if isinstance(value, int):
            number = value
        else:
            try:
                number = parse_whole(value)
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{number} is not between {self.low} and {self.high}", param, ctx)
        return number


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
    """The scheduled jobs of the core and the enabled plugins: how often, the last run (its
    start, status and summary), the next run (when a worker is running) and the last error."""
    from crm.db import db as database
    from crm.jobs import overview
    from crm.plugins import get_registry
    from crm.worker import worker_status
    app = current_app._get_current_object()
    get_registry().refresh(database.session)
    status = worker_status(app)
    if not status.running:
        click.echo("warning: background work is not running: start `crm worker` (until then jobs run only with "
                   "`crm jobs run-due`)" + (f"; the queue cannot be read: {status.problem}" if status.problem else ""),
                   err=True)
    for row in overview(app, database.session, status.running):
        last = row.last
        done = "never" if last is None or last.started_at is None else \
            f"{_moment(last.started_at)} {last.status}" + (f": {last.summary}" if last.summary else "")
        upcoming = _moment(row.next_run) if row.next_run else "when a worker runs"
        click.echo(f"{row.job.name}\tevery {row.job.every_minutes} min\tlast run: {done}\tnext run: {upcoming}")
        if last is not None and last.error:
            click.echo(f"\tlast error ({_moment(last.failed_at)}): {last.error.splitlines()[0]}")


def _moment(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value else "-"


@cli.command("worker")
@click.option("--workers", default=2, show_default=True, type=WholeNumber(1, 32), help="worker threads")
@with_appcontext
def worker(workers):
    """Run queued background tasks and every scheduled job on its interval."""
    from crm import logs
    from crm.worker import run_worker
    logs.configure()
    app = current_app._get_current_object()
    click.echo(f"worker: queue {'redis ' + app.config['REDIS_URL'] if app.config.get('REDIS_URL') else 'sqlite'}"
               f", {workers} threads; Ctrl+C to stop")
    run_worker(app, workers)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CRM_HOST", help="address to listen on")
@click.option("--port", default=5000, show_default=True, type=WholeNumber(1, 65535), envvar="CRM_PORT")
@click.option("--workers", type=WholeNumber(1, 64), default=None, envvar="CRM_WEB_WORKERS",
              help="web processes [default: 2 x CPUs + 1, at most 8]")
@click.option("--threads", type=WholeNumber(1, 64), default=4, show_default=True, envvar="CRM_WEB_THREADS",
              help="requests each web process serves at once")
@click.option("--timeout", type=WholeNumber(5, 3600), default=60, show_default=True, envvar="CRM_WEB_TIMEOUT",
              help="seconds a request may take before its web process is replaced")
@click.option("--with-worker", is_flag=True, envvar="CRM_WITH_WORKER",
              help="also run `crm worker` beside the web processes (started and stopped with them)")
@click.option("--worker-threads", type=WholeNumber(1, 32), default=2, show_default=True,
              help="threads of that worker")
@with_appcontext
def serve(host, port, workers, threads, timeout, with_worker, worker_threads):
    """Serve the web UI and the API with gunicorn (HUP: graceful reload; TERM: graceful stop)."""
    from crm import logs, migrate
    from crm.db import db as database
    from crm.plugin_tools import pid_file
    from crm.serve import default_workers, gunicorn_options, serve as run_server
    logs.configure()
    app = current_app._get_current_object()
    try:
        behind = migrate.pending(app)
        if behind:
            click.echo(f"warning: the database needs `crm db upgrade` ({', '.join(behind)}); "
                       "/readyz answers 503 until then", err=True)
    except DatabaseUnavailable as exc:
        click.echo(f"warning: the database cannot be reached yet ({exc.detail}); /readyz answers 503 until it can",
                   err=True)
    database.engine(app).dispose()  # no connection of this process crosses into the web processes
    workers = workers or default_workers()
    click.echo(f"serving on http://{host}:{port}/ with {workers} web processes x {threads} threads"
               + (", and a background worker" if with_worker else "; run `crm worker` for background work"))
    options = gunicorn_options(host, port, workers, threads, timeout)
    options["pidfile"] = pid_file(app.instance_path, port)  # `crm plugins install` reloads the server through it
    run_server(options, with_worker, worker_threads)


# --- imports --------------------------------------------------------------------

def _import_max_bytes() -> int:
    from crm.services.import_files import MAX_BYTES
    return int(current_app.config.get("IMPORT_MAX_BYTES") or MAX_BYTES)


def _user_named(session, username):
    from sqlalchemy import select

    from crm.models import User
    if not username:
        return None
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


@cli.command("import")
@click.argument("entity", type=click.Choice(["products", "services", "bundles", "accounts", "contacts", "vendors",
                                             "price_book_entries", "stock"]))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--mapping", "mapping_name", help="a saved column mapping (else guessed from the headers)")
@click.option("--key", help="the column duplicates are found by: sku, name, email, tax_id (default: the first)")
@click.option("--on-duplicate", type=click.Choice(["skip", "update", "create"]), default="skip", show_default=True)
@click.option("--locale", type=click.Choice(["en", "es"]), help="how the file writes numbers and dates "
                                                                  "(default: guessed)")
@click.option("--dry-run", is_flag=True, help="check every row and say what would happen; write nothing")
@click.option("--partial", is_flag=True, help="import the valid rows even when others are refused")
@click.option("--rejects", type=click.Path(dir_okay=False, writable=True),
              help="with --partial: write the refused rows there (CSV with an error column)")
@click.option("--user", "username", help="the user the import is recorded for (audit trail)")
@with_appcontext
@domain_errors
def import_file(entity, file, mapping_name, key, on_duplicate, locale, dry_run, partial, rejects, username):
    """Import ENTITY records from FILE (CSV or XLSX): all rows or none, unless --partial."""
    from crm.context import acting_as
    from crm.db import db as database
    from crm.services import import_files, imports
    if rejects and not partial:
        raise click.UsageError("--rejects needs --partial")
    require_database()
    try:
        size = os.path.getsize(file)
    except OSError as exc:
        raise click.ClickException(f"{file}: cannot be read: {exc.strerror}") from exc
    limit = _import_max_bytes()
    if size > limit:
        raise click.ClickException(f"{file}: the file is {size // (1024 * 1024)} MB; an import reads at most "
                                   f"{limit // (1024 * 1024)} MB: split it into smaller files")
    with open(file, "rb") as handle:
        data = handle.read()
    sheet = import_files.read(data, os.path.basename(file), max_bytes=limit)
    session = database.session
    with acting_as(_user_named(session, username)):
        mapping = imports.get_mapping(session, entity, mapping_name).columns if mapping_name else None
        options = imports.options_from(session, entity, sheet, mapping=mapping, key=key, on_duplicate=on_duplicate,
                                       partial=partial, locale=locale)
        if dry_run:
            try:
                outcome = imports.run(session, entity, sheet, options)
            finally:
                session.rollback()
            _echo_outcome(entity, outcome, "would be ")
            if outcome.errors:
                raise SystemExit(1)
            return
        try:
            with database.transaction() as session:
                run = imports.new_run(session, entity, os.path.basename(file))
                outcome = imports.perform(session, run, sheet, options)
        except imports.ImportRefused as refused:
            _echo_outcome(entity, refused.outcome, "", errors_only=True)
            raise click.ClickException(f"{refused.outcome.rejected_count} of {refused.outcome.total} rows refused; "
                                       "nothing was imported (--partial imports the valid rows)") from None
    _echo_outcome(entity, outcome, "")
    click.echo(f"import {run.id} recorded (undo: crm imports undo {run.id})")
    if rejects and outcome.rejected:
        with open(rejects, "w", encoding="utf-8", newline="") as handle:
            handle.write(imports.rejects_csv(sheet, outcome))
        click.echo(f"{outcome.rejected_count} refused rows written to {rejects}")


def _echo_outcome(entity, outcome, would: str, errors_only: bool = False) -> None:
    if not errors_only:
        click.echo(f"{entity}: {outcome.total} rows; {would}created {outcome.created}, {would}updated "
                   f"{outcome.updated}, skipped {outcome.skipped}, refused {outcome.rejected_count} "
                   f"(numbers and dates read as {outcome.locale})")
    for error in outcome.errors[:50]:
        column = f", column {error.column!r}" if error.column else ""
        click.echo(f"row {error.row}{column}: {error.message}", err=True)
    if len(outcome.errors) > 50:
        click.echo(f"... and {len(outcome.errors) - 50} more errors", err=True)


@cli.group()
def imports():
    """The imports made: list them, undo the last one."""


@imports.command("list")
@click.option("--entity", help="only the imports of this entity")
@with_appcontext
def imports_list(entity):
    """The latest imports, newest first."""
    from crm.db import db as database
    from crm.services import imports as service
    for run in service.runs(database.session, entity or None):
        click.echo(f"{run.id}\t{run.entity}\t{run.status}\t{run.created_count} created, {run.updated_count} updated, "
                   f"{run.rejected_count} refused\t{run.filename}\t{_moment(run.created_at)}")


@imports.command("undo")
@click.argument("run_id", type=WholeNumber(1, 2**31 - 1))
@click.option("--user", "username", help="the user the undo is recorded for (audit trail)")
@with_appcontext
@domain_errors
def imports_undo(run_id, username):
    """Undo import RUN_ID: remove what it created, restore what it updated."""
    from crm.context import acting_as
    from crm.db import db as database
    from crm.services import imports as service
    with database.transaction() as session, acting_as(_user_named(session, username)):
        counts = service.undo(session, service.get_run(session, run_id, for_update=True))
    click.echo(f"import {run_id} undone: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


# --- plugin commands ------------------------------------------------------------

def _add_plugin_commands() -> None:
    import crm.models  # noqa: F401
    from crm.db import core_table_names
    from crm.plugins import PluginRegistry, installed_candidates
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
