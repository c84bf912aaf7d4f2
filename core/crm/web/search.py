"""The global search: the results page (``/search?q=``, ``&kind=`` for more of one kind) and
the suggestions the box at the top of every page asks for as the user types
(``/search/suggest?q=``, JSON). Both show only the kinds the user's role may read
(:mod:`crm.services.search` finds, :mod:`crm.permissions` decides)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from crm.db import db
from crm.permissions import can, require
from crm.services import search as finder
from crm.web.helpers import DOC_ENDPOINTS

bp = Blueprint("search", __name__, url_prefix="/search")

#: the page of each core kind's records
ENDPOINTS = {"product": "products", "service": "services", "account": "accounts", "contact": "contacts",
             "vendor": "vendors", **{doc_type: endpoint for doc_type, endpoint in DOC_ENDPOINTS.items()}}
MAX_QUERY = 200


def url_of(hit: finder.SearchHit) -> str:
    if hit.url:
        return hit.url
    if hit.kind in DOC_ENDPOINTS:
        return url_for(f"{DOC_ENDPOINTS[hit.kind]}.detail", doc_id=hit.id)
    endpoint = "bundles" if hit.variant == "bundle" else ENDPOINTS[hit.kind]
    return url_for(f"{endpoint}.detail", record_id=hit.id)


def allowed_kinds() -> list[finder.SearchKind]:
    return [kind for kind in finder.kinds() if can(g.user, kind.resource, "read")]


def _query() -> str:
    return (request.args.get("q") or "")[:MAX_QUERY]


@bp.route("/")
@require()
def results():
    """Up to twenty hits of each kind, or a hundred of the one asked for with ``kind``."""
    allowed = allowed_kinds()
    chosen = request.args.get("kind") or ""
    one = [kind for kind in allowed if kind.key == chosen]
    limit = finder.KIND_LIMIT if one else finder.PAGE_LIMIT
    result = finder.search(db.session, _query(), one or allowed, limit)
    return render_template("search.html", result=result, url_of=url_of, kind=one[0] if one else None)


@bp.route("/suggest")
@require()
def suggest():
    """``{"q", "groups": [{"kind", "label", "more", "url", "hits": [{"id", "title", "detail", "url",
    "inactive"}]}], "message"}``: a few hits of each kind, for the box's list."""
    q = _query()
    result = finder.search(db.session, q, allowed_kinds(), finder.SUGGEST_LIMIT)
    message = ""
    if result.too_short:
        message = _too_short()
    elif result.words and not result.groups:
        message = _nothing(result.q)
    return jsonify({
        "q": result.q,
        "message": message,
        "results_url": url_for("search.results", q=result.q),
        "groups": [{
            "kind": group.kind.key, "label": str(group.kind.label), "more": group.more,
            "url": url_for("search.results", q=result.q, kind=group.kind.key),
            "hits": [{"id": hit.id, "title": hit.title, "detail": hit.detail, "url": url_of(hit),
                      "inactive": hit.inactive} for hit in group.hits],
        } for group in result.groups],
    })


def _too_short() -> str:
    return _("Type at least %(count)s characters.", count=finder.TRIGRAM)


def _nothing(q: str) -> str:
    return _("Nothing found for “%(q)s”.", q=q)
