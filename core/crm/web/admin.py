"""Administration: the installed plugins (what they are and add, enable, disable, purge), what each role may do,
and the background jobs (their runs, and whether a worker runs them)."""
from __future__ import annotations

from itertools import groupby
from operator import itemgetter

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import insert

from crm.db import db
from crm.errors import CRMError
from crm.labels import role_label
from crm.models import PluginState
from crm.models.auth import ROLES
from crm.permissions import RESOURCES, plugin_resources, require
from crm.plugins import PLUGIN_ID, core_version, get_registry
from crm.services import plugin_admin

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _settings_links(registry) -> dict[str, list]:
    """Each enabled plugin's settings pages (a plugin whose hook fails has none)."""
    links = {}
    for plugin_id in registry.enabled:
        try:
            links[plugin_id] = list(registry.call_one(plugin_id, "crm_settings_pages") or [])
        except Exception:  # noqa: BLE001  contained: the page still lists every plugin
            current_app.logger.exception("plugin %s: crm_settings_pages failed", plugin_id)
            links[plugin_id] = []
    return links


@bp.route("/plugins")
@require("plugins", "write")  # the administrator's page: who may change plugins (GET /api/v1/plugins lists them)
def plugins():
    """Every installed plugin: what its distribution says, its state, what it adds, its settings."""
    from crm.plugin_tools import migrations_pending
    registry = get_registry()
    app = current_app._get_current_object()
    db.session.rollback()  # on SQLite the request's own transaction would keep the migrations' reads waiting
    pending = migrations_pending(app)
    rows = registry.describe()
    for row in rows:
        row["adds"] = plugin_admin.what_it_adds(row["hooks"])
        row["migrations_pending"] = row["name"] in pending
        plugin = registry.plugins[row["name"]]
        row["incompatible"] = plugin.incompatible
    return render_template("admin/plugins.html", plugins=rows, settings=_settings_links(registry),
                           core_version=core_version())


@bp.route("/plugins/<plugin_id>/<any(enable, disable):action>", methods=["POST"])
@require("plugins", "write")
def toggle_plugin(plugin_id: str, action: str):
    from crm.plugin_tools import enable
    try:
        if action == "enable":
            migrated = enable(current_app._get_current_object(), plugin_id)
            flash(_("Plugin %(id)s enabled; its tables were brought up to date.", id=plugin_id) if migrated
                  else _("Plugin %(id)s enabled.", id=plugin_id))
        else:
            with db.transaction() as session:
                plugin_admin.set_enabled(session, get_registry(), plugin_id, False)
            flash(_("Plugin %(id)s disabled.", id=plugin_id))
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.plugins"))


@bp.route("/plugins/<plugin_id>/purge", methods=["GET", "POST"])
@require("plugins", "write")
def purge_plugin(plugin_id: str):
    """What purging drops (tables and rows) and why it may be refused; done when the plugin's id
    is typed back."""
    if not PLUGIN_ID.match(plugin_id):
        abort(404)
    registry = get_registry()
    db.session.rollback()  # on SQLite the request's own transaction would hold the database purging writes
    with db.engine().connect() as connection:
        plan = plugin_admin.purge_plan(connection, registry, plugin_id)
    if not plan.tables:
        abort(404)
    error = None
    if request.method == "POST" and plan.allowed:
        if request.form.get("confirm", "").strip() != plugin_id:
            error = _("Type %(id)s to confirm: nothing was dropped.", id=plugin_id)
        else:
            with db.engine().begin() as connection:
                dropped = plugin_admin.purge(connection, plugin_id)
                if plugin_id in registry.plugins:  # still installed: off until enabled again (which migrates)
                    connection.execute(insert(PluginState).values(id=plugin_id, enabled=False))
            registry.refresh(db.session)
            flash(_("Plugin %(id)s purged: %(count)s table(s) dropped.", id=plugin_id, count=len(dropped)))
            return redirect(url_for("admin.plugins"))
    status = 422 if error or (request.method == "POST" and not plan.allowed) else 200
    return render_template("admin/plugin_purge.html", plan=plan, error=error,
                           plugin=registry.plugins.get(plugin_id)), status


@bp.route("/plugins/<plugin_id>/merge-locations", methods=["POST"])
@require("plugins", "write")
def merge_plugin_locations(plugin_id: str):
    """The purge page's "Merge into the default location": the stock, moves and reservations at
    the plugin's stock locations go to the default location (refused while it is enabled)."""
    if not PLUGIN_ID.match(plugin_id):
        abort(404)
    from crm.services.stock_merge import merge_into_default
    try:
        with db.transaction() as session:
            merged = merge_into_default(session, plugin_id, enabled=plugin_id in get_registry().enabled)
    except CRMError as exc:
        flash(exc.message, "error")
    else:
        flash(_("The stock of %(count)s product(s) and %(moves)s stock move(s) at the locations of %(id)s are now at "
                "the default location.", count=merged.products, moves=merged.moves, id=plugin_id))
    return redirect(url_for("admin.purge_plugin", plugin_id=plugin_id))


@bp.route("/roles")
@require("users")
def roles():
    """The roles x resources matrix, read from the declarations of ``crm.permissions`` and the
    enabled plugins' views: what it shows is what the pages and the API enforce."""
    return render_template("admin/roles.html", roles=[(role, role_label(role)) for role in ROLES],
                           core=list(RESOURCES.values()),
                           plugins=[(plugin_id, [resource for _, resource in group])
                                    for plugin_id, group in groupby(plugin_resources(current_app), key=itemgetter(0))])


@bp.route("/jobs")
@require("jobs")
def jobs():
    """The scheduled jobs (last run, next run, last error) and whether a worker is running."""
    from crm.jobs import overview
    from crm.worker import worker_status
    app = current_app._get_current_object()
    status = worker_status(app)
    return render_template("admin/jobs.html", worker=status, jobs=overview(app, db.session, status.running))
