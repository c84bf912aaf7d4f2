"""The item lookup in the browser.

- ``item_lookup`` (``/item-lookup``): the settings page and the picker's script and style.
- ``item_lookup_json`` (``/item-lookup/json``): JSON for the picker, signed in with the session
  cookie; the POST needs the CSRF token in an ``X-CSRFToken`` header (the core checks it for
  every page request). Same services as the REST API; errors are the API's JSON shape.

The picker itself is rendered into the core's slots by :func:`picker_html`.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from crm.api import error_response, invalid_response, status_for
from crm.api.schemas import document_schema, dumped, shared
from crm.db import db
from crm.errors import CRMError
from crm.models import Document, PriceBook, Vendor
from crm.permissions import can, require
from crm.services import documents, stock
from crm.services.doctypes import DOC_TYPES, DocType
from crm_item_lookup import lines, schemas, search as lookup, settings

STATIC = Path(__file__).parent / "static"
ASSETS = {"picker.js": "text/javascript", "picker.css": "text/css"}

bp = Blueprint("item_lookup", __name__, url_prefix="/item-lookup", template_folder="templates")
json_bp = Blueprint("item_lookup_json", __name__, url_prefix="/item-lookup/json")


# --- the picker's assets -------------------------------------------------------------------------

@bp.route("/assets/<name>")
@require()
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(STATIC, name, mimetype=ASSETS[name], max_age=3600)
    return response


# --- settings page -------------------------------------------------------------------------------

def _form_values(form: MultiDict) -> dict:
    facets = {kind: [v for v in (form.get(f"facets.{kind}.{n}", "") for n in range(settings.MAX_FACETS)) if v]
              for kind in settings.KINDS}
    return {"facets": facets, "default_kind": form.get("default_kind", "product"),
            "switches": [s for s in settings.SWITCHES if form.get(f"switch.{s}")],
            "show_picture": bool(form.get("show_picture")),
            "picture_field": form.get("picture_field") or None}


@bp.route("/settings", methods=["GET", "POST"])
@require("settings", "write")
def settings_page() -> ResponseReturnValue:
    session = db.session
    errors = None
    values = settings.load(session)
    if request.method == "POST":
        values = _form_values(request.form)
        try:
            with db.transaction() as tx:
                settings.save(tx, values)
            flash(_("The item lookup settings were saved."))
            return redirect(url_for("item_lookup.settings_page"))
        except CRMError as exc:
            errors = exc
    fields = settings.available_fields(session)
    return render_template("item_lookup/settings.html", values=values, fields=fields, errors=errors,
                  picture_fields=[f for f in fields if not f.builtin and f.type == "text"],
                  kind_labels=kind_labels(), switch_labels=switch_labels()), (422 if errors else 200)


def kind_labels() -> dict:
    return {"product": _("Products"), "service": _("Services"), "bundle": _("Bundles")}


def switch_labels() -> dict:
    return {"in_stock": _("In stock only"), "include_inactive": _("Include inactive"),
            "bundles_only": _("Bundles only")}


# --- JSON for the picker -------------------------------------------------------------------------

def _json_error(exc: CRMError) -> ResponseReturnValue:
    return error_response(status_for(exc), exc.code, exc.message, exc.fields)


def _schema_error(exc: SchemaError) -> ResponseReturnValue:
    return invalid_response(exc.normalized_messages())


def _query_args(args: MultiDict) -> dict:
    data = {}
    for key in args:
        data[key] = args.getlist(key) if key in ("f1", "f2", "f3") else args.get(key)
    return data


@json_bp.route("/items")
@require("catalog")
def items() -> ResponseReturnValue:
    session = db.session
    try:
        args = shared(schemas.ItemLookupSearchArgs).load(_query_args(request.args))
    except SchemaError as exc:
        return _schema_error(exc)
    from crm_item_lookup.api import run_search
    try:
        return run_search(session, args)
    except CRMError as exc:
        return _json_error(exc)


@json_bp.route("/vendors")
@require("vendors")
def vendors() -> Response:
    rows = db.session.execute(select(Vendor.id, Vendor.name).where(Vendor.active.is_(True))
                              .order_by(func.lower(Vendor.name)).limit(1000)).all()
    return jsonify({"items": [{"id": vid, "name": name} for vid, name in rows]})


def _add_lines_view(kind: DocType) -> None:
    out_schema = document_schema(kind.name)

    @require(kind.resource, "write")
    def add_lines(doc_id: int) -> ResponseReturnValue:
        try:
            body = shared(schemas.ItemLookupLinesIn).load(request.get_json(silent=True) or {})
        except SchemaError as exc:
            return _schema_error(exc)
        try:
            with db.transaction() as session:
                document = documents.get_document(session, kind.name, doc_id, for_update=True)
                lines.append_items(session, document, body["items"], version=body.get("version"),
                                   price_book_id=body.get("price_book_id"))
                answer = dumped(out_schema, document)  # in the transaction
        except CRMError as exc:
            return _json_error(exc)
        return jsonify(answer)

    add_lines.__name__ = f"add_{kind.name}_lines"
    json_bp.add_url_rule(f"/{kind.path}/<int:doc_id>/lines", add_lines.__name__, add_lines, methods=["POST"])


for _kind in DOC_TYPES.values():
    _add_lines_view(_kind)


# --- the picker, rendered into a slot ------------------------------------------------------------

_ids = itertools.count(1)


def picker_html(*, mode: str, doc_type: str, document: Document | None = None) -> Markup:
    """The button, the dialog and the configuration of one picker. ``mode`` ``editor``: the chosen
    items become rows of the core's line editor (saved with the document), priced from the
    editor's price book; ``document``: they are appended to the saved document at once
    (``POST .../lines``) and the page reloads, priced from the price book chosen in the picker."""
    session = db.session
    values = settings.load(session)
    kind = DOC_TYPES[doc_type]
    config = {
        "mode": mode,
        "docType": doc_type,
        "searchUrl": url_for("item_lookup_json.items"),
        "vendorsUrl": url_for("item_lookup_json.vendors") if can(g.user, "vendors") else None,
        "addUrl": (url_for(f"item_lookup_json.add_{doc_type}_lines", doc_id=document.id)
                   if mode == "document" and document is not None else None),
        "onDocument": sorted({line.item_id for line in document.lines if line.item_id})
        if document is not None else [],
        "defaultKind": values["default_kind"],
        "switches": values["switches"],
        "showPicture": bool(values["show_picture"] and values["picture_field"]),
        "perPage": 25,
        "strings": strings(),
        "kindLabels": kind_labels(),
    }
    uid = f"il-picker-{next(_ids)}"
    return Markup(render_template("item_lookup/picker.html", uid=uid, config=config, mode=mode, kind=kind,
                         switches=values["switches"], switch_labels=switch_labels(), kind_labels=kind_labels(),
                         letters=lookup.LETTERS, price_books=_price_books(session, mode, doc_type),
                         locations=stock.location_choices(session, g.user)))


def _price_books(session: Session, mode: str, doc_type: str) -> list[PriceBook]:
    """The price books the picker of a saved document offers (as the line editor does: the active
    ones, not on purchase orders, which take the purchase cost). In the line editor the picker
    follows the editor's own price book."""
    if mode != "document" or doc_type == "purchase_order":
        return []
    return list(session.scalars(select(PriceBook).where(PriceBook.active.is_(True)).order_by(PriceBook.name)))


def strings() -> dict:
    """What the script shows, in the user's language."""
    return {
        "searching": _("Searching…"), "none": _("No item matches these filters."),
        "oneItem": _("1 item"), "items": _("%(count)s items", count="{n}"),
        "page": _("Page {page} of {pages}"), "previous": _("Previous"), "next": _("Next"),
        "name": _("Name"), "sku": _("SKU"), "kind": _("Kind"), "vendor": _("Vendor"),
        "available": _("Available"), "quantity": _("Quantity"), "price": _("Price"), "add": _("Add"),
        "picture": _("Picture"), "onDocument": _("on the document"), "inactive": _("inactive"),
        "selected": _("{n} selected"), "addSelected": _("Add selected ({n})"), "clear": _("Clear"),
        "showAll": _("Show all ({n})"), "showFewer": _("Show fewer"),
        "added": _("{n} lines added."), "error": _("Something went wrong: {message}"),
        "signIn": _("Your session has ended; sign in again."), "nothingSelected": _("Tick at least one item."),
        "badQuantity": _("Quantity must be a number above 0."), "badPrice": _("Price must be a number."),
        "sortBy": _("Sort by {column}"), "toggleAdd": _("Add {name}"), "allKinds": _("All"),
        "product": _("Product"), "service": _("Service"), "bundle": _("Bundle"),
        "cannotAdd": _("The line editor is not on this page."),
    }
