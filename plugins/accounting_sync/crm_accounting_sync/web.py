"""The accounting sync in the browser (``/accounting-sync``): connections with "Sync now"
per connection and per entity, the sync log (runs, and per record what and why), the
link table with failed and conflicting records (resolve, skip, retry), and the
connection settings page (listed among the admin's settings pages)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from crm.accounting import connector_classes
from crm.db import db
from crm.errors import CRMError
from crm.permissions import require
from crm_accounting_sync import connections as conns
from crm_accounting_sync import i18n, runner, services
from crm_accounting_sync.i18n import _
from crm_accounting_sync.models import Link, Run

bp = Blueprint("accounting_sync", __name__, url_prefix="/accounting-sync", template_folder="templates")
ROLES = {"admin", "accounting"}


def render(template: str, **context):
    return render_template(template, _=i18n.gettext, ngettext=i18n.ngettext, **context)


def entity_labels() -> dict:
    return {"accounts": _("Accounts"), "contacts": _("Contacts"), "vendors": _("Vendors"), "items": _("Items"),
            "quotes": _("Quotes"), "sales-orders": _("Sales orders"), "purchase-orders": _("Purchase orders"),
            "invoices": _("Invoices"), "payments": _("Payments")}


def action_labels() -> dict:
    return {"created": _("created"), "updated": _("updated"), "deleted": _("deleted"), "skipped": _("skipped"),
            "failed": _("failed"), "conflict": _("conflict"), "waiting": _("waiting")}


def side_labels() -> dict:
    return {"to_remote": _("to the accounting system"), "from_remote": _("from the accounting system")}


def status_labels() -> dict:
    return {"queued": _("queued"), "running": _("running"), "done": _("done"), "failed": _("failed"),
            "ok": _("in sync"), "waiting": _("waiting"), "conflict": _("conflict"), "skipped": _("skipped"),
            "deleted": _("deleted")}


def _labels() -> dict:
    return {"entity_labels": entity_labels(), "action_labels": action_labels(), "side_labels": side_labels(),
            "status_labels": status_labels()}


@bp.route("/")
@require(roles=ROLES)
def index():
    session = db.session
    rows = conns.list_connections(session)
    runs = list(session.scalars(select(Run).order_by(Run.id.desc()).limit(20)))
    problems = dict(session.execute(select(Link.connection, func.count()).where(
        Link.status.in_(("failed", "waiting", "conflict"))).group_by(Link.connection)).all())
    supported = {name: cls.entities for name, cls in connector_classes().items()}
    return render("accounting_sync/index.html", connections=rows, runs=runs, problems=problems,
                  supported=supported, **_labels())


@bp.route("/sync", methods=["POST"])
@require(roles=ROLES)
def sync_now():
    name = request.form.get("connection", "")
    entity = request.form.get("entity") or None
    try:
        with db.transaction() as session:
            run = runner.create_run(session, name, [entity] if entity else None,
                                    user_id=getattr(g.get("user"), "id", None))
    except CRMError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accounting_sync.index"))
    app = current_app._get_current_object()
    if run.mode == "background":
        runner.enqueue_run(app, run.id)
        flash(_("The sync runs in the background; this page shows its progress."))
    else:
        run = runner.run_now(app, db.session, run.id)
        if run.status == "failed":
            flash(_("The sync stopped: %(error)s", error=run.error), "error")
        else:
            flash(_("Sync finished."))
    return redirect(url_for("accounting_sync.run_page", run_id=run.id))


@bp.route("/runs/<int:run_id>")
@require(roles=ROLES)
def run_page(run_id: int):
    session = db.session
    run = services.get_run(session, run_id)
    entity = request.args.get("entity") or None
    action = request.args.get("action") or None
    records, total = services.run_records(session, run.id, entity=entity, action=action, limit=1000)
    return render("accounting_sync/run.html", run=run, records=records, total=total, entity=entity,
                  action=action, **_labels())


@bp.route("/links")
@require(roles=ROLES)
def links_page():
    session = db.session
    filters = {k: request.args.get(k) or None for k in ("connection", "entity", "status", "q")}
    if filters["status"] is None and not request.args.get("all"):
        filters["status"] = None
    try:
        stmt = services.links_query(filters)
    except CRMError as exc:
        abort(422, exc.message)
    rows = list(session.scalars(stmt.limit(500)))
    return render("accounting_sync/links.html", links=rows, filters=filters, **_labels())


@bp.route("/links/<int:link_id>/<action>", methods=["POST"])
@require(roles=ROLES)
def link_action(link_id: int, action: str):
    try:
        with db.transaction() as session:
            if action == "resolve":
                services.resolve_conflict(session, link_id, request.form.get("keep", ""))
                flash(_("The conflict is settled; the next sync applies it."))
            elif action == "skip":
                services.skip_link(session, link_id)
                flash(_("The record is skipped until it changes again."))
            elif action == "retry":
                services.retry_link(session, link_id)
                flash(_("The record is tried again on the next sync."))
            else:
                abort(404)
    except CRMError as exc:
        flash(exc.message, "error")
    return redirect(request.form.get("next") or url_for("accounting_sync.links_page"))


@bp.route("/settings", methods=["GET", "POST"])
@bp.route("/settings/<name>", methods=["GET", "POST"])
@require(roles={"admin"})
def settings_page(name: str | None = None):
    session = db.session
    classes = connector_classes()
    connection = session.get(conns.Connection, name) if name else None
    errors = None
    values = {"name": name or "", "connector": connection.connector if connection else next(iter(sorted(classes)), ""),
              "enabled": connection.enabled if connection else True,
              "settings": json.dumps(connection.settings if connection else {}, indent=2, ensure_ascii=False)}
    if request.method == "POST":
        form = request.form
        new_name = (name or form.get("name", "")).strip()
        values.update(name=new_name, connector=form.get("connector", ""), enabled=bool(form.get("enabled")),
                      settings=form.get("settings", "{}"))
        try:
            try:
                settings = json.loads(values["settings"] or "{}")
            except ValueError as exc:
                from crm.errors import ValidationError
                raise ValidationError.for_field("settings", f"not valid JSON: {exc}") from None
            if not new_name:
                from crm.errors import ValidationError
                raise ValidationError.for_field("name", _("is required"))
            cls = classes.get(values["connector"])
            secrets = {k: form.get(f"secret.{k}") for k in (cls.secret_keys if cls else ())
                       if form.get(f"secret.{k}")}
            for k in (cls.secret_keys if cls else ()):
                if form.get(f"forget.{k}"):
                    secrets[k] = None
            with db.transaction() as tx:
                conns.save_connection(tx, new_name, {"connector": values["connector"], "enabled": values["enabled"],
                                                     "settings": settings, "secrets": secrets})
                row = tx.get(conns.Connection, new_name)
                row.settings = settings  # the form shows the whole settings: what is removed there goes
            flash(_("The connection was saved."))
            return redirect(url_for("accounting_sync.settings_page", name=new_name))
        except CRMError as exc:
            errors = exc
    secret_names = conns.secret_names(connection) if connection else []
    return render("accounting_sync/settings.html", connection=connection, values=values, errors=errors,
                  classes=classes, secret_names=secret_names, connections=conns.list_connections(session),
                  **_labels()), (422 if errors else 200)
