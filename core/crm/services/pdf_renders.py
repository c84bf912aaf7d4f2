"""Printing a document: its PDF from :mod:`crm.services.pdf`, kept, and rendered by a worker
when it is large.

The cost of a PDF is WeasyPrint's layout, which grows with the cells of the lines table (item
lines x printed columns; about a millisecond each, see ``python -m bench pdf``), while the HTML it
is laid out from costs little. So every printing builds the HTML first and looks for a PDF already
rendered from the same HTML (``pdf_renders``, keyed by the HTML's SHA-256): printing an unchanged
document again, in the same language, is immediate, and any change to the document, its layout,
the plugins' additions or the language prints anew.

A PDF not rendered yet is rendered during the request when it has at most :data:`INLINE_CELLS`
cells (a couple of seconds). A larger one is queued for a worker (:func:`crm.worker.enqueue`) and
the request answers :class:`Pending` at once, with an estimate of its progress: the page shows it
and refreshes, the API answers ``202 Accepted`` with ``Retry-After``. Its row is the lock that
keeps every process from rendering the same PDF twice; a rendering whose worker died is queued
again once it is :data:`STALE_AFTER` old. No PDF prints more than :data:`MAX_CELLS` cells (a
1,000-line document with 40 IDCA columns has 48,000).

Kept PDFs are deleted with their document, and replaced: rendering a document's PDF deletes the
one rendered before in the same language.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app
from flask_babel import force_locale, format_number, get_locale, gettext as _
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from crm.db import db
from crm.errors import Conflict
from crm.models import Document
from crm.models.base import utcnow
from crm.models.pdf import PdfRender
from crm.services import pdf

log = logging.getLogger(__name__)

#: the most cells a PDF is rendered with during a request; a larger one is rendered by a worker
INLINE_CELLS = 2_000
#: the most cells a PDF prints (beyond it the PDF is refused with 409 ``pdf_too_large``)
MAX_CELLS = 50_000
#: WeasyPrint's time per cell on this project's reference machine, for the progress estimate
SECONDS_PER_CELL = 0.0013
#: a rendering not finished after this long is taken for lost (its worker died) and queued again
STALE_AFTER = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Pending:
    """A PDF a worker renders: ``progress`` (0 to 1) and ``seconds_left`` are estimates from its
    cells and the time since it was queued."""

    cells: int
    lines: int
    columns: int
    started_at: dt.datetime
    seconds_left: int
    progress: float


@dataclass(frozen=True)
class Printing:
    """A document's PDF as built for one printing: its HTML, what it costs, and for whom."""

    html: str
    sha256: str
    cells: int
    lines: int
    columns: int
    document_id: int
    language: str


def prepare(session: Session, document: Document) -> Printing:
    """The HTML of ``document``'s PDF in the current language, refused with :class:`Conflict`
    (``pdf_too_large``) beyond :data:`MAX_CELLS` cells."""
    context = pdf.print_context(session, document)
    cells = pdf.cell_count(context)
    lines = sum(1 for row in context["lines"] if row["type"] == "item")
    columns = len(context["columns"])
    if cells > MAX_CELLS:
        raise Conflict(_("This PDF would print %(cells)s cells (%(lines)s lines x %(columns)s columns); "
                         "a PDF prints at most %(max)s. Print fewer columns (hide some in the line layout) "
                         "or split the document into smaller ones.",
                         cells=format_number(cells), lines=format_number(lines),
                         columns=columns, max=format_number(MAX_CELLS)),
                       {"lines": [_("too many cells to print: at most %(max)s (lines x columns)",
                                    max=format_number(MAX_CELLS))]},
                       code="pdf_too_large")
    html = pdf.document_html(context)
    return Printing(html, hashlib.sha256(html.encode()).hexdigest(), cells, lines, columns,
                    document.id, str(get_locale()))


def document_pdf(session: Session, document: Document) -> bytes | Pending:
    """For a request: the PDF of ``document``, kept or rendered now, or :class:`Pending` while a
    worker renders it (queued here if it is not yet). A rendering that failed is reported once as
    a :class:`Conflict` (``pdf_failed``) and tried again on the next request.

    Once the HTML is built, ``session``'s transaction is ended (rolled back: printing changes no
    record) and the kept PDFs are read and written in sessions of their own, committed at once."""
    printing = prepare(session, document)
    session.rollback()
    with _own_session() as own:
        kept = _kept(own, printing.sha256)
        if kept is None and printing.cells <= INLINE_CELLS:
            return _render_and_keep(own, printing)
    if kept is None or (kept.status == "rendering" and utcnow() - _aware(kept.started_at) > STALE_AFTER):
        kept = _queue(printing)
    if kept.status == "ready":
        return kept.content or b""
    if kept.status == "failed":
        with _own_session() as own:
            _forget(own, printing.sha256)
        raise Conflict(_("The PDF could not be rendered: %(error)s", error=kept.error[:300]), code="pdf_failed")
    return _pending(printing, kept)


def printed_pdf(session: Session, document: Document) -> bytes:
    """The PDF of ``document``, kept or rendered now whatever its size (up to :data:`MAX_CELLS`),
    kept in ``session``'s transaction: for work that is itself in the background (an email's
    attachment, a job)."""
    printing = prepare(session, document)
    kept = _kept(session, printing.sha256)
    if kept is not None and kept.status == "ready":
        return kept.content or b""
    return _render_and_keep(session, printing)


def render_queued(app: Flask, html_sha256: str) -> str:
    """The worker's task (:func:`crm.worker.enqueue`): render the PDF of the row ``html_sha256``
    in its language. When the document changed since it was queued, the row is dropped (the next
    request queues the new one). Idempotent: a PDF already rendered is left as it is."""
    with _own_session() as session:
        row = session.get(PdfRender, html_sha256)
        if row is None or row.status != "rendering":
            return "nothing to do"
        document = session.get(Document, row.document_id)
        if document is None:
            return "document deleted"
        try:
            with force_locale(row.language):
                printing = prepare(session, document)
            if printing.sha256 != html_sha256:
                _forget(session, html_sha256)
                return "document changed since it was queued"
            content = pdf.html_to_pdf(printing.html)
        except Exception as exc:  # recorded on the row, shown to the user who asked for it
            log.exception("PDF of document %s failed", row.document_id)
            row.status, row.error, row.finished_at = "failed", f"{type(exc).__name__}: {exc}", utcnow()
            return "failed"
        row.status, row.content, row.finished_at = "ready", content, utcnow()
        _drop_older(session, printing)
        return f"{len(content)} bytes"


@contextlib.contextmanager
def _own_session() -> Iterator[Session]:
    """A session of its own, committed at the end of the block (rolled back on an exception)."""
    session = db.new_session(current_app)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _kept(session: Session, sha256: str) -> PdfRender | None:
    return session.scalars(select(PdfRender).options(undefer(PdfRender.content))
                           .where(PdfRender.html_sha256 == sha256)).first()


def _render_and_keep(session: Session, printing: Printing) -> bytes:
    content = pdf.html_to_pdf(printing.html)
    try:
        with session.begin_nested():
            session.merge(PdfRender(html_sha256=printing.sha256, document_id=printing.document_id,
                                    language=printing.language, cells=printing.cells, status="ready",
                                    content=content, error="", started_at=utcnow(), finished_at=utcnow()))
    except IntegrityError:  # the same PDF kept by another process meanwhile
        return content
    _drop_older(session, printing)
    return content


def _queue(printing: Printing) -> PdfRender:
    """Claim the rendering (one process wins) and queue it for a worker; the row as it is then."""
    from crm.worker import enqueue
    try:
        with _own_session() as session:
            stale = cast(CursorResult, session.execute(delete(PdfRender).where(
                PdfRender.html_sha256 == printing.sha256, PdfRender.status == "rendering",
                PdfRender.started_at < utcnow() - STALE_AFTER))).rowcount
            session.add(PdfRender(html_sha256=printing.sha256, document_id=printing.document_id,
                                  language=printing.language, cells=printing.cells, status="rendering", error="",
                                  started_at=utcnow()))
        if stale:
            log.warning("PDF %s was not rendered within %s: queued again", printing.sha256, STALE_AFTER)
        enqueue(current_app._get_current_object(), "crm.services.pdf_renders:render_queued",  # type: ignore[attr-defined]
                html_sha256=printing.sha256)
    except IntegrityError:  # another request claimed it first
        pass
    with _own_session() as session:
        kept = _kept(session, printing.sha256)
    if kept is None:  # rendered and replaced meanwhile: the document changed
        raise Conflict(_("The document changed while its PDF was being prepared: print it again."),
                       code="pdf_failed")
    return kept


def _forget(session: Session, sha256: str) -> None:
    session.execute(delete(PdfRender).where(PdfRender.html_sha256 == sha256))


def _drop_older(session: Session, printing: Printing) -> None:
    """Delete the PDFs of the document rendered before in the same language (not a rendering
    still in progress)."""
    session.execute(delete(PdfRender).where(PdfRender.document_id == printing.document_id,
                                            PdfRender.language == printing.language,
                                            PdfRender.html_sha256 != printing.sha256,
                                            PdfRender.status != "rendering"))


def _pending(printing: Printing, row: PdfRender) -> Pending:
    expected = max(1.0, printing.cells * SECONDS_PER_CELL)
    elapsed = (utcnow() - _aware(row.started_at)).total_seconds()
    return Pending(cells=printing.cells, lines=printing.lines, columns=printing.columns, started_at=row.started_at,
                   seconds_left=max(1, round(expected - elapsed)), progress=min(0.95, max(0.0, elapsed / expected)))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
