"""The accounting sync in the browser (``/accounting-sync``): connections with "Sync now"
per connection and per entity, the sync log (runs, and per record what and why), the
link table with failed and conflicting records (resolve, skip, retry), the connection
settings form (listed among the admin's settings pages; see ``settings_form``), and
"Connect to QuickBooks" (the OAuth 2 consent: connect, callback, disconnect)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session as flask_session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.accounting_connectors import connector_classes, settings_fields
from crm.db import db
from crm.errors import CRMError
from crm.permissions import require
from crm.security import local_path
from crm.worker import worker_status
from crm_accounting_sync import connections as conns, runner, services
from crm_accounting_sync.models import Link, Run
from crm_accounting_sync.permissions import ACCOUNTING_SYNC

bp = Blueprint("accounting_sync", __name__, url_prefix="/accounting-sync", template_folder="templates")
SPARE_ROWS = 2   # empty rows the settings form offers for new mappings and value map entries


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
@require(ACCOUNTING_SYNC)
def index():
    session = db.session
    rows = conns.list_connections(session)
    runs = list(session.scalars(select(Run).order_by(Run.id.desc()).limit(20)))
    problems = dict(session.execute(select(Link.connection, func.count()).where(
        Link.status.in_(("failed", "waiting", "conflict"))).group_by(Link.connection)).all())
    supported = {name: cls.entities for name, cls in connector_classes().items()}
    worker = worker_status(current_app) if any(r.status == "queued" for r in runs) else None
    return render_template("accounting_sync/index.html", connections=rows, runs=runs, problems=problems,
                  supported=supported, worker=worker, expiries={c.name: conns.refresh_token_expiry(c) for c in rows},
                  **_labels())


@bp.route("/sync", methods=["POST"])
@require(ACCOUNTING_SYNC, "write")
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
        if worker_status(app).running:  # else the run's page says that nothing will run it yet
            flash(_("The sync runs in the background; this page shows its progress."))
    else:
        run = runner.run_now(app, db.session, run.id)
        if run.status == "failed":
            flash(_("The sync stopped: %(error)s", error=run.error), "error")
        else:
            flash(_("Sync finished."))
    return redirect(url_for("accounting_sync.run_page", run_id=run.id))


@bp.route("/runs/<int:run_id>")
@require(ACCOUNTING_SYNC)
def run_page(run_id: int):
    session = db.session
    run = services.get_run(session, run_id)
    entity = request.args.get("entity") or None
    action = request.args.get("action") or None
    records, total = services.run_records(session, run.id, entity=entity, action=action, limit=1000)
    worker = worker_status(current_app) if run.status == "queued" else None
    return render_template("accounting_sync/run.html", run=run, records=records, total=total, entity=entity,
                  action=action, worker=worker, **_labels())


@bp.route("/links")
@require(ACCOUNTING_SYNC)
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
    return render_template("accounting_sync/links.html", links=rows, filters=filters, **_labels())


@bp.route("/links/<int:link_id>/<action>", methods=["POST"])
@require(ACCOUNTING_SYNC, "write")
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
    return redirect(local_path(request.form.get("next")) or url_for("accounting_sync.links_page"))


def direction_labels() -> dict:
    return {"both": _("both ways"), "to_remote": _("only to the accounting system"),
            "from_remote": _("only from the accounting system"), "none": _("not synced")}


def policy_labels() -> dict:
    return {"newest": _("the newest change wins"), "ours": _("ours wins"), "theirs": _("theirs wins"),
            "manual": _("decide by hand")}


def value_map_labels() -> dict:
    return {"tax_codes": _("Tax codes"), "payment_methods": _("Payment methods")}


def reason_text(reason: str) -> str:
    """A validation reason of the settings in the user's language (the known ones)."""
    known = {"is required": _("is required"), "must be a whole number": _("must be a whole number"),
             "must be a whole number >= 0": _("must be a whole number, 0 or more"),
             "must be an http:// or https:// address": _("must be an http:// or https:// address"),
             "appears twice": _("appears twice"),
             "write one 'ours = theirs' per line": _("write one 'ours = theirs' per line"),
             "must name one of our custom fields: custom.<key>": _("must name one of our custom fields: custom.<key>"),
             "is required: the remote field": _("is required: the remote field"),
             "use letters, digits, - and _ (at most 60)": _("use letters, digits, - and _ (at most 60)")}
    if reason in known:
        return known[reason]
    if reason.startswith("must be one of "):
        return _("must be one of %(values)s", values=reason[len("must be one of "):])
    return reason


def remote_choices(connection, cls) -> tuple[dict, str]:
    """The choices the connected system offers for some settings (QuickBooks: the company's
    accounts by type), and why they could not be read ("" when they were)."""
    from crm.accounting_connectors import SyncError
    if connection is None or cls is None or connection.connector != cls.name or \
            not hasattr(cls, "setting_choices") or not (connection.settings or {}).get("realm_id"):
        return {}, ""
    try:
        connector = conns.make_connector(connection, db.session)
        try:
            return connector.setting_choices(), ""
        finally:
            connector.close()
    except (SyncError, CRMError) as exc:
        return {}, exc.message


def field_choices(cls, values: dict, remote: dict) -> dict[str, list[tuple[str, str]]]:
    """The options of each choice field: the connected system's (value, label) pairs, else the
    field's own choices; the value set now is always among them."""
    out = {}
    for f in settings_fields(cls) if cls else ():
        if f.type != "choice":
            continue
        options = list(remote.get(f.name) or [(str(c), str(c)) for c in f.choices])
        current = values["fields"].get(f.name, "")
        if current and current not in {value for value, _label in options}:
            options.append((current, current))
        out[f.name] = options
    return out


def value_map_choices(values: dict, remote: dict) -> dict[str, list[tuple[str, str]]]:
    """The options of the "theirs" side of value maps the connected system lists (QuickBooks: its
    tax codes), with the values set now kept among them."""
    out = {}
    for key, options in remote.items():
        if not key.startswith("value_maps."):
            continue
        name = key.split(".", 1)[1]
        options = list(options)
        known = {value for value, _label in options}
        for row in values["value_maps"].get(name) or []:
            if row.get("theirs") and row["theirs"] not in known:
                options.append((row["theirs"], row["theirs"]))
                known.add(row["theirs"])
        out[name] = options
    return out


def _valid_name(name: str) -> bool:
    return bool(name) and len(name) <= 60 and name.replace("-", "").replace("_", "").isalnum()


@bp.route("/settings", methods=["GET", "POST"])
@bp.route("/settings/<name>", methods=["GET", "POST"])
@require("settings", "write")
def settings_page(name: str | None = None):
    from crm.errors import ValidationError
    from crm_accounting_sync import settings_form
    session = db.session
    classes = connector_classes()
    connection = session.get(conns.Connection, name) if name else None
    chosen = (request.values.get("connector") if connection is None else None) or (
        connection.connector if connection else next(iter(sorted(classes)), ""))
    if request.method == "POST":
        chosen = request.form.get("connector", "") or chosen
    cls = classes.get(chosen)
    values = settings_form.values_of(connection.settings if connection else {}, cls)
    values.update(name=name or "", connector=chosen, enabled=connection.enabled if connection else True)
    errors = None
    status = 200
    if request.method == "POST":
        form = request.form
        new_name = (name or form.get("name", "")).strip()
        shown = form.get("shown_connector", "")
        values.update(name=new_name, enabled=bool(form.get("enabled")))
        if cls is None:
            errors = ValidationError.for_field("connector", _("is required"))
        elif shown != chosen:
            # another system was chosen: show its fields, save nothing yet
            flash(_("Fill in the settings of %(system)s, then save.", system=cls.label))
        else:
            stored = dict(connection.settings or {}) if connection and connection.connector == chosen else {}
            settings, secrets, values_back, problems = settings_form.parse(form, cls, stored)
            values.update(values_back)
            try:
                if not _valid_name(new_name):
                    problems.setdefault("name", []).append("use letters, digits, - and _ (at most 60)"
                                                           if new_name else "is required")
                if name is None and new_name and session.get(conns.Connection, new_name) is not None:
                    problems.setdefault("name", []).append(_("a connection with this name exists"))
                have = set(conns.secret_names(connection)) if connection and connection.connector == chosen else set()
                for f in settings_fields(cls):
                    if f.secret and f.required and not secrets.get(f.name) and (
                            f.name not in have or f.name in secrets):
                        problems.setdefault(f"secrets.{f.name}", []).append("is required")
                try:
                    conns.validate_settings(dict(settings), cls)
                except ValidationError as exc:
                    for key, reasons in exc.fields.items():
                        problems.setdefault(key, []).extend(reasons)
                if problems:
                    raise ValidationError(_("Please correct the fields marked."), problems)
                with db.transaction() as tx:
                    conns.save_connection(tx, new_name, {"connector": chosen, "enabled": values["enabled"],
                                                         "settings": settings, "secrets": secrets})
                    row = tx.get(conns.Connection, new_name)
                    row.settings = settings  # the form shows the whole settings: what is removed there goes
                flash(_("The connection was saved."))
                return redirect(url_for("accounting_sync.settings_page", name=new_name))
            except CRMError as exc:
                errors = exc
        if errors is not None:
            status = 422
    field_errors = {key: [reason_text(r) for r in reasons] for key, reasons in (errors.fields if errors else {}).items()}
    secret_names = conns.secret_names(connection) if connection else []
    choices, choices_error = remote_choices(connection, cls)
    return render_template("accounting_sync/settings.html", connection=connection, values=values, errors=errors,
                  field_choices=field_choices(cls, values, choices), remote_choices_error=choices_error,
                  value_map_choices=value_map_choices(values, choices),
                  refresh_expiry=conns.refresh_token_expiry(connection),
                  field_errors=field_errors, classes=classes, cls=cls,
                  fields=settings_fields(cls) if cls else (), secret_names=secret_names,
                  connections=conns.list_connections(session), directions=direction_labels(),
                  policies=policy_labels(), value_map_labels=value_map_labels(),
                  mapping_directions=conns.MAPPING_DIRECTIONS, spare_rows=SPARE_ROWS,
                  callback_url=url_for("accounting_sync.oauth_callback", _external=True),
                  **_labels()), status


# --- "Connect to QuickBooks": OAuth 2 consent -----------------------------------------------------

OAUTH_KEY = "accounting_sync_oauth"   # the pending consent in the user's (signed) session


def _redirect_uri(connection) -> str:
    return (connection.settings or {}).get("redirect_uri") or url_for("accounting_sync.oauth_callback",
                                                                      _external=True)


def _quickbooks(name: str):
    connection = db.session.get(conns.Connection, name)
    if connection is None or connection.connector != "quickbooks":
        abort(404)
    return connection


def _user_id():
    return getattr(g.get("user"), "id", None)


@bp.route("/settings/<name>/connect", methods=["POST"])
@require("settings", "write")
def oauth_connect(name: str):
    """Start the consent: to Intuit's authorization URL with a state bound to this session."""
    from crm_accounting_sync import crypto
    from crm_accounting_sync.quickbooks import oauth
    connection = _quickbooks(name)
    redirect_uri = _redirect_uri(connection)
    state = oauth.new_state()
    try:
        url = oauth.authorization_url(connection.settings or {}, crypto.decrypt(connection.secrets),
                                      redirect_uri, state)
    except (oauth.OAuthError, CRMError) as exc:
        flash(_("QuickBooks cannot be connected: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("accounting_sync.settings_page", name=name))
    flask_session[OAUTH_KEY] = {"state": state, "connection": name, "redirect_uri": redirect_uri,
                                "user": _user_id()}
    return redirect(url, code=303)


@bp.route("/oauth/callback")
@require("settings", "write")
def oauth_callback():
    """Intuit sends the browser back here with ``code``, ``state`` and ``realmId`` (or ``error``)."""
    from crm.accounting_connectors import SyncError
    from crm_accounting_sync import crypto
    from crm_accounting_sync.quickbooks import oauth
    pending = flask_session.pop(OAUTH_KEY, None)   # single use, whatever the answer
    args = request.args
    if (not isinstance(pending, dict) or pending.get("user") != _user_id()
            or not oauth.same_state(pending.get("state"), args.get("state"))):
        return render_template("accounting_sync/oauth_error.html", message=_(
            "This answer from QuickBooks does not belong to a connection started from this session "
            "(the state does not match), so it was refused and nothing was stored. Start again with "
            "\"Connect to QuickBooks\".")), 400
    name = pending["connection"]
    back = url_for("accounting_sync.settings_page", name=name)
    if args.get("error"):
        if args["error"] == "access_denied":
            flash(_("QuickBooks was not connected: access was denied on Intuit's consent screen. "
                    "Nothing was changed."), "error")
        else:
            flash(_("QuickBooks was not connected: Intuit answered %(error)s. Nothing was changed.",
                    error=(args.get("error_description") or args["error"])[:200]), "error")
        return redirect(back)
    code, realm = args.get("code", ""), args.get("realmId", "")
    if not code or not realm:
        flash(_("QuickBooks was not connected: the answer has no code or company id. Nothing was changed."),
              "error")
        return redirect(back)
    connection = _quickbooks(name)
    try:
        conns.check_company(db.session, connection, realm)     # before any token is issued
        tokens = oauth.exchange(connection.settings or {}, crypto.decrypt(connection.secrets),
                                pending["redirect_uri"], code, realm)
        with db.transaction() as tx:
            conns.store_consent(tx, name, tokens, realm)
    except (oauth.OAuthError, CRMError) as exc:
        flash(_("QuickBooks was not connected: %(reason)s", reason=exc.message), "error")
        return redirect(back)
    session = db.session
    session.expire_all()
    connector = conns.make_connector(session.get(conns.Connection, name), session)
    try:
        company = connector.check().get("company") or realm
        flash(_("Connected to QuickBooks: %(company)s.", company=company))
    except SyncError as exc:
        flash(_("Connected, but QuickBooks does not answer yet: %(reason)s", reason=exc.message), "error")
    finally:
        connector.close()
    return redirect(back)


@bp.route("/settings/<name>/disconnect", methods=["POST"])
@require("settings", "write")
def oauth_disconnect(name: str):
    """Revoke the tokens at Intuit and forget them here (the app's client id and secret stay)."""
    from crm_accounting_sync import crypto
    from crm_accounting_sync.quickbooks import oauth
    connection = _quickbooks(name)
    problem = None
    try:
        oauth.revoke(connection.settings or {}, crypto.decrypt(connection.secrets), _redirect_uri(connection))
    except (oauth.OAuthError, CRMError) as exc:
        problem = exc.message
    with db.transaction() as tx:
        conns.forget_tokens(tx, name)
    if problem:
        flash(_("The tokens were forgotten here, but Intuit did not confirm the revocation: %(reason)s",
                reason=problem), "error")
    else:
        flash(_("Disconnected from QuickBooks: the tokens were revoked and forgotten."))
    return redirect(url_for("accounting_sync.settings_page", name=name))
