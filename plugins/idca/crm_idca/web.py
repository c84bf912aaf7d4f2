"""The plugin's pages: the layout settings (admins) with a live preview on a sample document,
and the pieces it adds to the core's document pages (subtotal rows in the line editor, the
running subtotals, totals that could not be computed)."""
from __future__ import annotations

import contextlib
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from crm.db import db
from crm.errors import CRMError
from crm.models import Document, DocumentLine, Item
from crm.money import decimal_text, is_digits
from crm.permissions import require
from crm.services.doctypes import BY_PATH, DOC_TYPES, DocType
from crm.totals import TOTAL_NAMES
from crm.web.common import read_document_form
from crm_idca import engine, layouts as lay

bp = Blueprint("idca", __name__, url_prefix="/idca", template_folder="templates")

PATHS = tuple(BY_PATH)


def _kind(path: str) -> DocType:
    kind = BY_PATH.get(path)
    if kind is None or path not in PATHS:
        abort(404)
    return kind


# --- the settings page ----------------------------------------------------------------------

@bp.route("/layouts/")
@require("settings", "write")
def index() -> ResponseReturnValue:
    return redirect(url_for("idca.layout", path=PATHS[0]))


@bp.route("/layouts/<path>", methods=["GET"])
@require("settings", "write")
def layout(path: str) -> ResponseReturnValue:
    kind = _kind(path)
    stored = lay.current_layout(db.session, kind.name)
    data = ({"columns": stored.columns, "totals": stored.totals, "version": stored.version} if stored is not None
            else {"columns": lay.empty_layout(kind.name).stored["columns"], "totals": [], "version": 0})
    return _page(kind, path, data, rows_from_layout(data), errors=None)


@bp.route("/layouts/<path>", methods=["POST"])
@require("settings", "write")
def save(path: str) -> ResponseReturnValue:
    kind = _kind(path)
    data, rows = read_form(request.form)
    try:
        with db.transaction() as session:
            saved = lay.save_layout(session, kind.name, data)
            version = saved.version
    except CRMError as exc:
        return _page(kind, path, data, rows, errors=exc), 422 if exc.code != "stale_version" else 409
    flash(_("The layout was saved (version %(version)s).", version=version))
    return redirect(url_for("idca.layout", path=path))


@bp.route("/layouts/<path>/preview", methods=["POST"])
@require("settings", "write")
def preview(path: str) -> ResponseReturnValue:
    """The posted (unsaved) layout checked and applied to a sample document, as HTML for htmx."""
    kind = _kind(path)
    data, rows = read_form(request.form)
    session = db.session
    try:
        compiled = lay.preview_layout(session, kind.name, data)
        sample = sample_document(session, kind.name, compiled)
    except CRMError as exc:
        session.rollback()
        return render_template("idca/_preview.html", errors=_field_errors(exc, rows), sample=None)
    session.rollback()  # nothing the sample touched is kept
    return render_template("idca/_preview.html", errors=None, sample=sample)


def _field_errors(exc: CRMError, rows: dict) -> list[tuple[str, str]]:
    """Messages with the row they belong to: ``("Column margin · formula", "unknown name ...")``."""
    out: list[tuple[str, str]] = []
    for name, messages in (exc.fields or {"": [exc.message]}).items():
        out.extend((_where(name, rows), message) for message in messages)
    return out


def _where(name: str, rows: dict) -> str:
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] in ("columns", "totals") and is_digits(parts[1]):
        entries = rows[parts[0]]
        index = int(parts[1])
        key = entries[index].get("key") if index < len(entries) else ""
        what = _("Column") if parts[0] == "columns" else _("Total")
        return f"{what} {key or index + 1}" + (f" · {'.'.join(parts[2:])}" if len(parts) > 2 else "")
    return name


def _page(kind: DocType, path: str, data: dict, rows: dict, errors: CRMError | None) -> str:
    field_errors = {}
    if errors is not None:
        for name, messages in (errors.fields or {}).items():
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] in ("columns", "totals") and is_digits(parts[1]):
                index = int(parts[1])
                entries = rows[parts[0]]
                if index < len(entries):
                    row_key = entries[index]["row"]
                    field_errors[f"{parts[0]}.{row_key}.{parts[2] if len(parts) > 2 else 'key'}"] = messages
                    continue
            field_errors[name] = messages
    return render_template(
        "idca/layout.html", kind=kind, path=path, paths=PATHS, doc_types=DOC_TYPES, rows=rows,
        version=data.get("version") or 0, errors=errors, field_errors=field_errors,
        column_types=lay.COLUMN_TYPES, total_types=lay.TOTAL_TYPES, builtin_columns=lay.BUILTIN_COLUMNS,
        builtin_labels=lay.BUILTIN_LABELS, total_labels=lay.TOTAL_LABELS, total_names=TOTAL_NAMES,
        item_fields=sorted(lay.ITEM_FIELDS), doc_fields=sorted(lay.DOC_FIELDS), line_names=lay.LINE_NAMES,
        default_sources=lay.DEFAULT_SOURCES, path_names={p: BY_PATH[p].name for p in PATHS},
        open_builtin=any(name.startswith("totals.b") for name in field_errors))


def rows_from_layout(data: dict) -> dict:
    """The form rows of a stored layout: ``{"columns": [...], "totals": [...]}``, each row a dict
    of text values plus its ``row`` key (built-in totals always listed, after the custom ones)."""
    columns = []
    for index, entry in enumerate(data.get("columns") or []):
        default = entry.get("default") or {}
        columns.append({
            "row": f"c{index}", "key": entry.get("key", ""), "builtin": entry.get("key") in lay.BUILTIN_COLUMNS,
            "label": entry.get("label") or "", "visible": entry.get("visible", True),
            "width": entry.get("width") or "", "type": entry.get("type") or "text",
            "editable": bool(entry.get("editable")), "formula": entry.get("formula") or "",
            "default_source": default.get("source", ""),
            "default_value": default.get("value") if default.get("source") == "value" else default.get("field", ""),
            "decimals": "" if entry.get("decimals") is None else str(entry["decimals"]),
            "choices": "\n".join(entry.get("choices") or [])})
    by_key = {entry.get("key"): entry for entry in data.get("totals") or []}
    totals = []
    for index, entry in enumerate(e for e in data.get("totals") or [] if e.get("key") not in TOTAL_NAMES):
        totals.append(_total_row(f"t{index}", entry, builtin=False))
    # the built-in ones the layout changes in its order (saving keeps it), then the others
    stored = [e.get("key") for e in data.get("totals") or [] if e.get("key") in TOTAL_NAMES]
    for name in stored + [n for n in TOTAL_NAMES if n not in stored]:
        totals.append(_total_row(f"b{name}", by_key.get(name) or {"key": name}, builtin=True))
    return {"columns": columns, "totals": totals}


def _total_row(row: str, entry: dict, *, builtin: bool) -> dict:
    key = entry.get("key", "")
    return {"row": row, "key": key, "builtin": builtin,
            "label": entry.get("label") or (lay.TOTAL_LABELS.get(key, "") if builtin else ""),
            "visible": entry.get("visible", True), "type": entry.get("type") or "money",
            "formula": entry.get("formula") or "",
            "decimals": "" if entry.get("decimals") is None else str(entry["decimals"])}


def read_form(form: MultiDict) -> tuple[dict, dict]:
    """The posted settings form -> (layout data for the service, the rows to show again)."""
    rows: dict[str, list[dict]] = {"columns": [], "totals": []}
    columns, totals = [], []
    for row in form.getlist("column_row")[:lay.MAX_COLUMNS + len(lay.BUILTIN_COLUMNS) + 5]:
        p = f"columns.{row}."
        key = form.get(p + "key", "").strip()
        builtin = key in lay.BUILTIN_COLUMNS and form.get(p + "builtin") == "1"
        values = {"row": row, "key": key, "builtin": builtin, "label": form.get(p + "label", ""),
                  "visible": form.get(p + "visible") == "1", "width": form.get(p + "width", "").strip(),
                  "type": form.get(p + "type", "text"), "editable": form.get(p + "editable") == "1",
                  "formula": form.get(p + "formula", ""), "default_source": form.get(p + "default_source", ""),
                  "default_value": form.get(p + "default_value", ""),
                  "decimals": form.get(p + "decimals", "").strip(), "choices": form.get(p + "choices", "")}
        rows["columns"].append(values)
        if builtin:
            columns.append({"key": key, "label": values["label"].strip() or None, "visible": values["visible"],
                            "width": values["width"] or None})
            continue
        entry = {"key": key, "label": values["label"].strip(), "visible": values["visible"],
                 "width": values["width"] or None, "type": values["type"], "editable": values["editable"],
                 "formula": values["formula"].strip() or None, "decimals": _int_or_text(values["decimals"]),
                 "choices": [c.strip() for c in values["choices"].splitlines() if c.strip()] or None}
        source = values["default_source"]
        if source == "value":
            entry["default"] = {"source": "value", "value": values["default_value"]}
        elif source in ("item", "item_custom"):
            entry["default"] = {"source": source, "field": values["default_value"].strip()}
        columns.append(entry)
    for row in form.getlist("total_row")[:lay.MAX_TOTALS + len(TOTAL_NAMES) + 5]:
        p = f"totals.{row}."
        key = form.get(p + "key", "").strip()
        builtin = row.startswith("b") and key in TOTAL_NAMES
        values = {"row": row, "key": key, "builtin": builtin, "label": form.get(p + "label", ""),
                  "visible": form.get(p + "visible") == "1", "type": form.get(p + "type", "money"),
                  "formula": form.get(p + "formula", ""), "decimals": form.get(p + "decimals", "").strip()}
        rows["totals"].append(values)
        if builtin:
            label = values["label"].strip()
            changed = (label and label != lay.TOTAL_LABELS[key]) or not values["visible"] or values["formula"].strip()
            if changed:
                totals.append({"key": key, "label": label or None, "visible": values["visible"],
                               "formula": values["formula"].strip() or None})
            continue
        totals.append({"key": key, "label": values["label"].strip(), "visible": values["visible"],
                       "type": values["type"], "formula": values["formula"].strip() or None,
                       "decimals": _int_or_text(values["decimals"])})
    # the service reports errors by position in the lists it gets: keep rows aligned with them
    custom_totals = [t for t in totals if t["key"] not in TOTAL_NAMES]
    builtin_totals = [t for t in totals if t["key"] in TOTAL_NAMES]
    data: dict = {"columns": columns, "totals": custom_totals + builtin_totals}
    version = form.get("version", "")
    if is_digits(version):
        data["version"] = int(version)
    rows["totals"] = _aligned(rows["totals"], data["totals"])
    return data, rows


def _int_or_text(value: str) -> int | str | None:
    if value == "":
        return None
    return int(value) if is_digits(value) else value


def _aligned(rows: list[dict], entries: list[dict]) -> list[dict]:
    """Rows reordered so that row i is the one entry i came from (then the untouched built-in rows)."""
    used, aligned = set(), []
    for entry in entries:
        for position, row in enumerate(rows):
            if position not in used and row["key"] == entry["key"] and (row["builtin"] == (entry["key"] in TOTAL_NAMES)):
                used.add(position)
                aligned.append(row)
                break
    return aligned + [row for position, row in enumerate(rows) if position not in used]


# --- the sample document of the preview -------------------------------------------------------

def sample_document(session: Session, doc_type: str, compiled: lay.CompiledLayout) -> dict:
    """The newest document of the type (or a made-up one from the first items) computed with the
    posted layout, never saved: ``{"document", "columns", "rows", "totals", "extra", "currency"}``."""
    from crm.services import documents
    source = session.scalar(select(Document).where(Document.doc_type == doc_type).order_by(Document.id.desc())
                            .limit(1))
    with session.no_autoflush:
        document = _transient_copy(session, doc_type, source)
        with engine.using_layout(compiled):
            computation = documents.computation(session, document)
    results = {id(r.key): r for r in computation.lines}
    rows = []
    for line in document.lines:
        if line.display_type is None:
            result = results[id(line)]
            values = {"item": line.item.name if line.item is not None else "", "description": line.description,
                      "quantity": result.quantity, "unit_price": result.unit_price, "discount": result.discount,
                      "net": result.net, "tax": result.tax, "total": result.total, **result.custom}
            rows.append({"type": "item", "values": values, "errors": result.custom.get(engine.ERRORS_KEY) or {}})
        else:
            rows.append({"type": line.display_type, "text": line.description, "values": dict(line.custom or {}),
                         "errors": {}})
    shown = [c for c in compiled.columns if c.visible]
    totals = engine.totals_of(computation)
    labels = {t.key: t for t in compiled.totals}
    builtin_rows = []
    for name in TOTAL_NAMES:
        entry = labels.get(name)
        if entry is not None and not entry.visible:
            continue
        builtin_rows.append({"key": name, "label": entry.label if entry else lay.TOTAL_LABELS[name],
                             "value": getattr(totals, name), "type": "money",
                             "replaced": name in computation.overridden})
    context = getattr(document, engine.STATE_ATTR, {}) or {}
    total_errors = context.get("total_errors") or {}
    extra_rows = [{"key": t.key, "label": t.label, "value": totals.extra.get(t.key), "total": t,
                   "error": total_errors.get(t.key)} for t in compiled.custom_totals if t.visible]
    return {"document": document, "source": source, "columns": shown, "rows": rows, "totals": builtin_rows,
            "extra": extra_rows, "currency": document.currency}


def _transient_copy(session: Session, doc_type: str, source: Document | None) -> Document:
    from crm.services.settings import get_setting
    kind = DOC_TYPES[doc_type]
    document = Document(doc_type=doc_type, status=kind.initial, number=source.number if source else "SAMPLE",
                        lines=[], received=Decimal("0"), currency=get_setting(session, "default_currency") or "EUR",
                        tax_mode="individual", conversion_rate=Decimal("1"), shipping_amount=Decimal("0"),
                        adjustment=Decimal("0"), group_taxes=[], shipping_taxes=[], custom={},
                        billing_address={}, shipping_address={})
    if source is not None and any(line.display_type is None for line in source.lines):
        for name in ("currency", "conversion_rate", "tax_mode", "discount_percent", "discount_amount",
                     "shipping_amount", "adjustment", "custom", "billing_address", "shipping_address",
                     "due_date", "valid_until", "invoice_date", "subject"):
            setattr(document, name, getattr(source, name))
        document.group_taxes = list(source.group_taxes or [])
        document.shipping_taxes = list(source.shipping_taxes or [])
        lines = []
        for line in source.lines:
            copy = DocumentLine(position=line.position, display_type=line.display_type, item_id=line.item_id,
                                description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                                discount_percent=line.discount_percent, discount_amount=line.discount_amount,
                                taxes=list(line.taxes or []), custom=dict(line.custom or {}))
            copy.item = line.item
            lines.append(copy)
        document.lines = lines
        return document
    items = list(session.scalars(select(Item).where(Item.active.is_(True)).order_by(Item.id).limit(3)))
    if not items:
        items = [Item(kind="product", name=_("Sample product"), unit_price=Decimal("10.00"),
                      purchase_cost=Decimal("6.00"), on_hand=Decimal("0"), reserved=Decimal("0"), custom={}),
                 Item(kind="service", name=_("Sample service"), unit_price=Decimal("40.00"),
                      purchase_cost=Decimal("25.00"), on_hand=Decimal("0"), reserved=Decimal("0"), custom={})]
    lines = [DocumentLine(position=0, display_type="section", description=_("Sample section"), custom={})]
    for position, item in enumerate(items, start=1):
        price = item.purchase_cost if doc_type == "purchase_order" else item.unit_price
        line = DocumentLine(position=position, item_id=item.id, quantity=Decimal(position + 1), unit_price=price,
                            discount_percent=Decimal("10") if position == 2 else None,
                            taxes=[{"id": t.id, "name": t.name, "rate": decimal_text(t.rate)}
                                   for t in (item.taxes if item.id is not None else []) if t.active],
                            description="", custom={})
        line.item = item
        lines.append(line)
    lines.append(DocumentLine(position=len(lines), display_type="subtotal", description=_("Subtotal"), custom={}))
    document.lines = lines
    return document


# --- the document pages ---------------------------------------------------------------------------

@bp.route("/editor/<doc_type>/subtotals", methods=["POST"])
@require()
def editor_subtotals(doc_type: str) -> str:
    """The running subtotals of the line editor's current (unsaved) state, as HTML for htmx."""
    kind = DOC_TYPES.get(doc_type)
    if kind is None:
        abort(404)
    from flask import g

    from crm.permissions import can
    if not can(g.get("user"), kind.resource, "write"):
        abort(403)
    session = db.session
    subtotals = []
    try:
        from crm.services import document_queries as docq
        doc_id = request.form.get("doc_id", "")
        current = None
        if is_digits(doc_id):
            from crm.services.documents import get_document
            current = get_document(session, kind.name, int(doc_id))
        data = read_document_form(session, kind.name, request.form, patch=current is not None)
        document = docq.preview(session, kind.name, data, current=current)
        subtotals = subtotal_rows(document)
    except (CRMError, ValueError):
        subtotals = []
    finally:
        session.rollback()
    return render_template("idca/_subtotals.html", subtotals=subtotals,
                           currency=request.form.get("currency") or "EUR")


def subtotal_rows(document: Document) -> list[dict]:
    """``[{"label", "amount", "sums": {column label: value}}]`` of the document's subtotal rows."""
    labels = {}
    with contextlib.suppress(Exception):
        layout, _live = engine.layout_of(db.session, document)
        if layout is not None:
            labels = {c.key: c for c in layout.custom_columns if c.type in ("money", "number") and c.visible}
    rows = []
    for line in document.lines:
        if line.display_type != "subtotal":
            continue
        custom = line.custom or {}
        rows.append({"label": line.description or _("Subtotal"), "amount": custom.get("subtotal"),
                     "sums": [(labels[k], custom.get(k)) for k in labels if k in custom]})
    return rows


def slot(name: str, context: dict) -> Markup | None:
    """What the plugin adds to the core's document pages."""
    doc_type = context.get("doc_type")
    if doc_type not in DOC_TYPES:
        return None
    from flask import g

    from crm.permissions import can
    if name == "line_editor_toolbar":
        if not can(g.get("user"), DOC_TYPES[doc_type].resource, "write"):
            return None
        from crm.ui import line_columns
        columns = line_columns(doc_type, db.session, context.get("document"))
        return Markup(render_template("idca/_editor_toolbar.html", doc_type=doc_type, columns=columns))
    document = context.get("document")
    if document is None:
        return None
    subtotals = subtotal_rows(document)
    layout, _live = engine.layout_of(db.session, document)
    bound = engine.binding(db.session, document)
    errors = dict(bound.total_errors or {}) if bound is not None else {}
    labels = {t.key: t.label for t in layout.totals} if layout is not None else {}
    if not subtotals and not errors:
        return None
    return Markup(render_template("idca/_document_panel.html", document=document, subtotals=subtotals,
                                  total_errors=[(labels.get(k, k), m) for k, m in errors.items()],
                                  layout=layout, bound=bound, currency=document.currency))
