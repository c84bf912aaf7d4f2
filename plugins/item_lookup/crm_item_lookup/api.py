"""The item lookup's REST endpoints:

- ``GET /api/v1/item-lookup/items``: the faceted search;
- ``GET|PUT /api/v1/item-lookup/settings`` and ``GET /api/v1/item-lookup/fields``;
- ``POST /api/v1/<quotes|sales-orders|purchase-orders|invoices>/<id>/lines``: append many
  items to a document in one transaction (answers the document, as the core's schema).
"""
from __future__ import annotations

from flask import Response, jsonify
from flask.views import MethodView
from sqlalchemy.orm import Session

from crm.api.schemas import Blueprint, document_schema, dumped
from crm.db import db
from crm.permissions import require
from crm.services import documents
from crm.services.doctypes import DOC_TYPES, DocType
from crm_item_lookup import lines, schemas, search as lookup, settings

blp = Blueprint("item_lookup_api", __name__, url_prefix="/api/v1/item-lookup",
                description="Item lookup: a faceted search over products, bundles and services")
lines_blp = Blueprint("item_lookup_lines_api", __name__, url_prefix="/api/v1",
                      description="Item lookup: add many items to a document at once")


def run_search(session: Session, args: dict) -> Response:
    """The search's JSON response. Written directly (the schema documents it): marshmallow would
    spend longer formatting 200 rows than the database spends finding them."""
    return jsonify(schemas.result_dict(lookup.search(session, schemas.to_query(args))))


@blp.route("/items")
class Items(MethodView):
    @require("catalog")
    @blp.arguments(schemas.ItemLookupSearchArgs, location="query")
    @blp.response(200, schemas.ItemLookupResult)
    def get(self, args: dict) -> Response:
        """Products, bundles and services with facet counts.

        Filters combine with AND; the values of one facet with OR. Each facet's counts apply every
        filter except that facet's own selection; values without matches are not listed."""
        return run_search(db.session, args)


@blp.route("/settings")
class Settings(MethodView):
    @require("catalog")
    @blp.response(200, schemas.ItemLookupSettings)
    def get(self) -> dict:
        """The picker's settings."""
        return settings.load(db.session)

    @require("settings", "write")
    @blp.arguments(schemas.ItemLookupSettings)
    @blp.response(200, schemas.ItemLookupSettings)
    def put(self, body: dict) -> dict:
        """Change the picker's settings (keys left out keep their value). Changing a kind's facet
        fields recomputes the facet values of its items."""
        with db.transaction() as session:
            return settings.save(session, body)


@blp.route("/fields")
class Fields(MethodView):
    @require("catalog")
    @blp.response(200, schemas.ItemLookupFieldList)
    def get(self) -> dict:
        """The fields that may be chosen as facets: text columns of items and active text or select
        custom fields of items."""
        return {"items": [f.__dict__ for f in settings.available_fields(db.session)]}


def _add_lines_route(kind: DocType) -> None:
    out_schema = document_schema(kind.name)

    class DocumentLines(MethodView):
        @require(kind.resource, "write")
        @lines_blp.arguments(schemas.ItemLookupLinesIn)
        @lines_blp.response(200, out_schema)
        def post(self, body: dict, doc_id: int) -> dict:
            """Append one line per item in one transaction (bundles are one line). Existing lines are
            kept; totals, validation and status rules are the core's (409 when not editable)."""
            with db.transaction() as session:
                document = documents.get_document(session, kind.name, doc_id, for_update=True)
                lines.append_items(session, document, body["items"], version=body.get("version"),
                                   price_book_id=body.get("price_book_id"))
                return dumped(out_schema, document)

    DocumentLines.__name__ = f"{kind.name.title().replace('_', '')}Lines"
    DocumentLines.post.__doc__ = (f"Add items to a {kind.label.lower()}.\n\n"
                                  + (DocumentLines.post.__doc__ or "").split("\n", 1)[0])
    lines_blp.route(f"/{kind.path}/<int:doc_id>/lines")(DocumentLines)


for _kind in DOC_TYPES.values():
    _add_lines_route(_kind)
