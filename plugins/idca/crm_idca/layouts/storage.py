"""Layouts in the database (the current one, every saved version) and compiled once per
``(doc_type, version)`` and app: a least recently used cache of :data:`CACHE_SIZE` compiled
layouts (cachetools' ``LRUCache``), and the current version read once per transaction."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import weakref

from cachetools import LRUCache
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.context import current_actor_id
from crm.errors import Conflict, ValidationError
from crm.services.records import changes_configuration, once_per_configuration
from crm_idca.formulas import TEXT
from crm_idca.layouts.model import CUSTOM_FIELD_KINDS, CompiledLayout, doc_type_of, empty_layout
from crm_idca.layouts.validation import build
from crm_idca.models import Layout, LayoutVersion

changes_configuration(Layout)

logger = logging.getLogger(__name__)


def custom_field_types(session: Session) -> dict:
    """The active custom fields of items and documents, as formula types."""
    from crm.services.custom_fields import fields_for
    return {"item": {f.key: CUSTOM_FIELD_KINDS.get(f.type, TEXT) for f in fields_for(session, "items")},
            "doc": {f.key: CUSTOM_FIELD_KINDS.get(f.type, TEXT) for f in fields_for(session, "documents")}}


def current_layout(session: Session, doc_type: str) -> Layout | None:
    return session.get(Layout, doc_type)


def save_layout(session: Session, doc_type: str, data: dict) -> Layout:
    """Validate ``{"columns", "totals", "version"?}`` and store it as the next version."""
    doc_type = doc_type_of(doc_type)
    layout = session.get(Layout, doc_type, with_for_update=True)
    expected = data.get("version")
    current_version = layout.version if layout is not None else 0
    if expected is not None and expected != current_version:
        raise Conflict(_("the layout changed since you read it (version %(current)s, you sent %(sent)s); reload it",
                         current=current_version, sent=expected),
                       {"version": [_("is %(version)s", version=current_version)]}, code="stale_version")
    compiled_layout = build(doc_type, current_version + 1, data.get("columns") or [], data.get("totals") or [],
                            custom_field_types(session))
    stored = compiled_layout.stored
    if layout is None:
        layout = Layout(doc_type=doc_type, version=0, columns=[], totals=[])
        session.add(layout)
    layout.version = current_version + 1
    layout.columns, layout.totals, layout.fields = stored["columns"], stored["totals"], stored["fields"]
    layout.updated_at = dt.datetime.now(dt.timezone.utc)
    layout.updated_by_id = current_actor_id()
    session.add(LayoutVersion(doc_type=doc_type, version=layout.version, columns=stored["columns"],
                              totals=stored["totals"], fields=stored["fields"], created_at=layout.updated_at,
                              created_by_id=layout.updated_by_id))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(_("another administrator saved this layout at the same time; reload it"),
                       code="stale_version") from None
    _remember(compiled_layout)
    _remember_version(session, doc_type, layout.version)
    return layout


def preview_layout(session: Session, doc_type: str, data: dict) -> CompiledLayout:
    """Validate a layout without storing it (the settings page's live preview)."""
    doc_type = doc_type_of(doc_type)
    return build(doc_type, -1, data.get("columns") or [], data.get("totals") or [], custom_field_types(session))


CACHE_SIZE = 64
_FALLBACK_CACHE: LRUCache = LRUCache(maxsize=CACHE_SIZE)
_LOCK = threading.Lock()   # cachetools' caches are not thread-safe on their own


def _cache() -> LRUCache:
    from flask import current_app, has_app_context
    if not has_app_context():
        return _FALLBACK_CACHE
    return current_app.extensions.setdefault("idca.layouts", LRUCache(maxsize=CACHE_SIZE))


def _remember(layout: CompiledLayout) -> None:
    with _LOCK:
        _cache()[(layout.doc_type, layout.version)] = layout


def _cached(doc_type: str, version: int) -> CompiledLayout | None:
    with _LOCK:
        return _cache().get((doc_type, version))


def from_stored(doc_type: str, version: int, columns: list | None, totals: list | None, fields: dict | None,
                session: Session | None = None) -> CompiledLayout:
    """Compile a stored layout version. Its formulas were valid when it was saved, against the
    custom field types stored with it; a layout stored otherwise (written to the table by hand,
    or before ``idca_0002``) is checked against the current custom fields, and if it is still
    invalid it is logged and replaced by the built-in columns: documents always open and save."""
    found = _cached(doc_type, version)
    if found is not None:
        return found
    try:
        found = build(doc_type, version, columns or [], totals or [], fields or {})
    except ValidationError as first:
        try:
            if session is None or fields:
                raise first
            found = build(doc_type, version, columns or [], totals or [], custom_field_types(session))
        except ValidationError as exc:
            logger.error("idca: stored layout %s version %s is invalid and is ignored: %s (%s)",
                         doc_type, version, exc.message, exc.fields)
            found = empty_layout(doc_type)
            found.version = version
    _remember(found)
    return found


_VERSION = select(Layout.version).where(Layout.doc_type == bindparam("doc_type"))


def current_version(session: Session, doc_type: str) -> int:
    """The current version of ``doc_type``'s layout (0: none saved): a SELECT of one integer,
    without flushing the document being computed, made once per transaction and document type
    (a transaction sees one version of a layout from start to end), and kept by the process while
    the configuration is unchanged (``once_per_configuration``: the layouts' table is watched)."""
    transaction = session.get_transaction()
    known = session.info.get("idca.versions", {}).get(doc_type)
    if transaction is not None and known is not None and known[0]() is transaction:
        return known[1]
    version = once_per_configuration(session, f"idca.version.{doc_type}",
                                     lambda: session.execute(_VERSION, {"doc_type": doc_type}).scalar() or 0)
    _remember_version(session, doc_type, version)
    return version


def _remember_version(session: Session, doc_type: str, version: int) -> None:
    transaction = session.get_transaction()
    if transaction is not None:
        session.info.setdefault("idca.versions", {})[doc_type] = (weakref.ref(transaction), version)


def compiled(session: Session, doc_type: str) -> CompiledLayout:
    """The current layout of ``doc_type`` compiled (the empty layout when none was saved)."""
    doc_type = doc_type_of(doc_type)
    version = current_version(session, doc_type)
    if version == 0:
        return _empty(doc_type)
    found = _cached(doc_type, version)
    if found is not None:
        return found
    with session.no_autoflush:
        layout = session.get(Layout, doc_type)
    if layout is None:
        return _empty(doc_type)
    return from_stored(doc_type, layout.version, layout.columns, layout.totals, layout.fields, session)


_EMPTY: dict[str, CompiledLayout] = {}


def _empty(doc_type: str) -> CompiledLayout:
    found = _EMPTY.get(doc_type)
    if found is None:
        found = _EMPTY[doc_type] = empty_layout(doc_type)
    return found


def compiled_version(session: Session, doc_type: str, version: int) -> CompiledLayout | None:
    """A saved version of ``doc_type``'s layout compiled; None when it does not exist."""
    found = _cached(doc_type, version)
    if found is not None:
        return found
    with session.no_autoflush:
        row = session.get(LayoutVersion, (doc_type, version))
    if row is None:
        return None
    return from_stored(doc_type, version, row.columns, row.totals, row.fields, session)


def versions(session: Session, doc_type: str) -> list[LayoutVersion]:
    return list(session.scalars(select(LayoutVersion).where(LayoutVersion.doc_type == doc_type_of(doc_type))
                                .order_by(LayoutVersion.version.desc())))
