"""The Import pages (:mod:`crm.services.imports`): upload a CSV or XLSX file, check the columns'
mapping (guessed from the headers, or a saved one), preview what the import would do row by
row, import it (at once, or through the job queue with a progress bar), and the history of
imports with their rejected rows and undo. Each step needs the right to create the entity's
records; every form carries the CSRF token."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crm.api.imports import check_may_import, max_bytes
from crm.db import db
from crm.errors import CRMError, NotFound, ValidationError
from crm.labels import REASON_LABELS
from crm.permissions import can, require
from crm.services import import_files, imports as service

bp = Blueprint("imports", __name__, url_prefix="/imports")

#: the list page each entity's imports are reached from, and go back to
LIST_PAGES = {"products": "products.index", "services": "services.index", "bundles": "bundles.index",
              "accounts": "accounts.index", "contacts": "contacts.index", "vendors": "vendors.index",
              "price_book_entries": "price_books.index", "stock": "stock.index"}


def _entities() -> list[str]:
    return [e for e in service.ENTITIES if can(g.user, service.PERMISSIONS[e], "write")]


@bp.route("/")
@require()
def index():
    """The history of imports and the form that starts one."""
    entity = request.args.get("entity", "")
    allowed = _entities()
    runs = [run for run in service.runs(db.session, entity if entity in allowed else None, limit=30)
            if run.entity in allowed and run.status != "draft"]
    return render_template("imports/index.html", entities=allowed, entity=entity if entity in allowed else "",
                           runs=runs, undoable={run.id for run in runs if service.undoable(db.session, run)},
                           max_mb=max_bytes() // (1024 * 1024))


@bp.route("/upload", methods=["POST"])
@require()
def upload():
    """Keep the uploaded file (a draft import) and go on to its mapping."""
    entity = request.form.get("entity", "")
    check_may_import(entity)
    limit = max_bytes()
    request.max_content_length = limit + 1024 * 1024
    try:
        file = request.files.get("file")
        data = file.read(limit + 1) if file is not None else b""
        if file is None or not file.filename:
            raise ValidationError.for_field("file", _("choose a CSV or XLSX file"))
        if len(data) > limit:
            raise import_files.refused(_("the file is larger than %(max)s MB: split it into smaller files",
                                         max=limit // (1024 * 1024)))
        import_files.read(data, file.filename, max_bytes=limit)
    except RequestEntityTooLarge:
        return _back(entity, _("the file is larger than %(max)s MB: split it into smaller files",
                               max=limit // (1024 * 1024)))
    except CRMError as exc:
        return _back(entity, exc.message)
    with db.transaction() as session:
        run = service.new_run(session, entity, file.filename, data)
    return redirect(url_for("imports.mapping", import_id=run.id))


def _back(entity: str, message: str):
    flash(message, "error")
    return redirect(url_for("imports.index", entity=entity))


def _draft(import_id: int):
    run = service.get_run(db.session, import_id)
    check_may_import(run.entity)
    if run.status != "draft":
        return run, None
    return run, import_files.read(run.file_data or b"", run.filename, max_bytes=max_bytes())


def _options_from_form(session, run, sheet) -> tuple[service.Options, dict]:
    form = request.form
    mapping = {header: form.get(f"map.{index}") or None for index, header in enumerate(sheet.headers)}
    options = service.options_from(session, run.entity, sheet, mapping=mapping, key=form.get("key") or None,
                                   on_duplicate=form.get("on_duplicate") or "skip",
                                   partial=form.get("partial") == "1", locale=form.get("locale") or None)
    return options, mapping


@bp.route("/<int:import_id>/mapping", methods=["GET", "POST"])
@require()
def mapping(import_id: int):
    """The file's columns, each with the field it goes to (guessed, or from a saved mapping)."""
    run, sheet = _draft(import_id)
    if sheet is None:
        return redirect(url_for("imports.show", import_id=import_id))
    session = db.session
    error, chosen = None, None
    if request.method == "POST":   # "preview": check the options, then show what the import would do
        try:
            options, chosen = _options_from_form(session, run, sheet)
            name = (request.form.get("save_as") or "").strip()
            if name:
                with db.transaction() as s:
                    service.save_mapping(s, run.entity, name, options.mapping)
                flash(_("Mapping %(name)s saved.", name=name))
            try:
                outcome = service.run(session, run.entity, sheet, options)
            finally:
                session.rollback()
            return render_template("imports/preview.html", run=run, sheet=sheet, options=options, outcome=outcome,
                                   fields={f.key: f for f in service.fields_of(session, run.entity)},
                                   list_page=LIST_PAGES[run.entity], errors=outcome.errors[:500])
        except CRMError as exc:
            error = exc
    saved = service.saved_mappings(session, run.entity)
    if chosen is None:
        wanted = request.args.get("saved", "")
        found = next((m for m in saved if m.name == wanted), None)
        chosen = ({h: found.columns.get(h) for h in sheet.headers} if found is not None
                  else service.guess_mapping(session, run.entity, sheet.headers))
    fields = service.fields_of(session, run.entity)
    return render_template("imports/mapping.html", run=run, sheet=sheet, mapping=chosen, fields=fields,
                           saved=saved, keys=service.KEYS[run.entity], key_labels=service.KEY_LABELS,
                           error=error, form=request.form, samples=sheet.rows[:3],
                           list_page=LIST_PAGES[run.entity]), 422 if error else 200


@bp.route("/<int:import_id>/run", methods=["POST"])
@require()
def run_import(import_id: int):
    """Import the draft with the options previewed: at once, or by a worker for a large file."""
    run, sheet = _draft(import_id)
    if sheet is None:
        return redirect(url_for("imports.show", import_id=import_id))
    with db.transaction() as session:
        run = service.get_run(session, import_id, for_update=True)
        try:
            options, _mapping = _options_from_form(session, run, sheet)
        except CRMError as exc:
            flash(exc.message, "error")
            return redirect(url_for("imports.mapping", import_id=import_id))
        run.status, run.options, run.total_rows = "queued", options.as_dict(), len(sheet.rows)
    app = current_app._get_current_object()
    if len(sheet.rows) <= service.SYNC_ROWS:
        service.run_queued(app, import_id)
    else:
        from crm.worker import enqueue
        enqueue(app, "crm.services.imports:run_queued", run_id=import_id)
    return redirect(url_for("imports.show", import_id=import_id))


@bp.route("/<int:import_id>")
@require()
def show(import_id: int):
    """An import: its progress while it runs (the page reloads itself), then what it did."""
    session = db.session
    run = service.get_run(session, import_id)
    check_may_import(run.entity)
    if run.status == "draft":
        return redirect(url_for("imports.mapping", import_id=import_id))
    running = run.status in ("queued", "running")
    from crm.worker import worker_status
    return render_template("imports/show.html", run=run, running=running,
                           processed=service.progress_of(current_app, run), undoable=service.undoable(session, run),
                           worker=worker_status(current_app._get_current_object()) if running else None,
                           list_page=LIST_PAGES[run.entity], reason_labels=REASON_LABELS)


@bp.route("/<int:import_id>/rejects")
@require()
def rejects(import_id: int):
    run = service.get_run(db.session, import_id)
    check_may_import(run.entity)
    if not run.rejects:
        raise NotFound(_("import %(id)s has no rejected rows", id=import_id))
    response = Response("\ufeff" + run.rejects, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="import-{import_id}-rejected.csv"'
    return response


@bp.route("/<int:import_id>/undo", methods=["POST"])
@require()
def undo(import_id: int):
    check_may_import(service.get_run(db.session, import_id).entity)
    db.session.rollback()
    try:
        with db.transaction() as session:
            counts = service.undo(session, service.get_run(session, import_id, for_update=True))
    except CRMError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Import undone: %(deleted)s removed, %(restored)s restored, %(reversed)s stock moves reversed.",
                **counts))
    return redirect(url_for("imports.show", import_id=import_id))


#: the list pages that offer an import, by their resource's name -> the entity imported
IMPORTED_FROM = {"products": "products", "services": "services", "bundles": "bundles", "accounts": "accounts",
                 "contacts": "contacts", "vendors": "vendors", "price_books": "price_book_entries"}
_STATUS_LABELS = {"draft": _l("Draft"), "queued": _l("Queued"), "running": _l("Running"), "done": _l("Done"),
                  "failed": _l("Failed"), "undone": _l("Undone")}


@bp.app_template_global()
def import_entity_of(resource_name: str) -> str | None:
    """The entity a list page imports (``price_books`` -> ``price_book_entries``), or None."""
    return IMPORTED_FROM.get(resource_name)


@bp.app_template_global()
def entity_label(entity: str) -> str:
    return str(service.ENTITY_LABELS.get(entity, entity))


@bp.app_template_global()
def import_status_label(status: str) -> str:
    return str(_STATUS_LABELS.get(status, status))


@bp.app_template_global("cell_text")
def cell_text_of(value) -> str:
    try:
        return service.cell_text(value)
    except service.CellError:
        return "=" + getattr(value, "text", "").lstrip("=")
