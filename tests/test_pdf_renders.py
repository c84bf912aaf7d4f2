"""Printing a document costs WeasyPrint's layout once: a PDF is kept and printed again at once
while nothing it shows changed (the document, the language), and printed anew when something
did. A large PDF is rendered by a worker: the API answers 202 with ``Retry-After`` and the page
shows its progress until it is ready, queued once however often it is asked for, queued again
when its worker died, and reported (then tried again) when it failed."""
from __future__ import annotations

import datetime as dt
import io

import pypdf
import pytest
from sqlalchemy import func, select, update

from crm.models import Document
from crm.models.jobs import Task
from crm.models.pdf import PdfRender
from crm.services import pdf, pdf_renders
from crm.worker import run_task
from tests.test_pdf import pdf_text
from tests.test_web_pages import sign_in

RENDER_TASK = "crm.services.pdf_renders:render_queued"


@pytest.fixture
def renders(monkeypatch):
    """Counts WeasyPrint's renderings."""
    calls = []
    real = pdf.html_to_pdf

    def counting(html):
        calls.append(html)
        return real(html)
    monkeypatch.setattr(pdf, "html_to_pdf", counting)
    return calls


@pytest.fixture
def queued(app, tmp_path, monkeypatch):
    """A queue a worker would consume (nothing runs by itself), and a threshold that sends every
    PDF of more than 8 cells (a quote of two lines: 16) to it."""
    app.config["QUEUE_IMMEDIATE"] = False
    app.instance_path = str(tmp_path)
    app.extensions.pop("crm.huey", None)
    monkeypatch.setattr(pdf_renders, "INLINE_CELLS", 8)
    return app


def quote(api, catalog, lines: int = 2) -> dict:
    body = {"account_id": catalog.account, "tax_mode": "individual",
            "lines": [{"item_id": catalog.widget, "quantity": "1", "discount_percent": "5"}] * lines}
    response = api.post("/quotes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def kept_rows(session, document_id: int) -> list[tuple[str, str]]:
    rows = session.execute(select(PdfRender.language, PdfRender.status)
                           .where(PdfRender.document_id == document_id).order_by(PdfRender.language)).all()
    session.rollback()   # no transaction left open (on SQLite it would keep the requests from writing)
    return [tuple(row) for row in rows]


def tasks(session) -> list[int]:
    """The ids of the queued renderings."""
    ids = session.scalars(select(Task.id).where(Task.target == RENDER_TASK).order_by(Task.id)).all()
    session.rollback()
    return list(ids)


def test_an_unchanged_document_prints_from_the_kept_pdf_and_a_change_prints_anew(
        api, api_as, make_user, catalog, renders, session):
    document = quote(api, catalog)
    first = api.get(f"/quotes/{document['id']}/pdf")
    again = api.get(f"/quotes/{document['id']}/pdf")
    assert "Widget" in pdf_text(again) and again.content == first.content
    assert len(renders) == 1

    changed = api.patch(f"/quotes/{document['id']}", json={"subject": "Spring order"})
    assert changed.status_code == 200, changed.text
    assert "Spring order" in pdf_text(api.get(f"/quotes/{document['id']}/pdf"))
    assert len(renders) == 2
    assert kept_rows(session, document["id"]) == [("en", "ready")]   # the older PDF is replaced

    spanish = api_as(user=make_user("sales", language="es"))
    assert "Presupuesto" in pdf_text(spanish.get(f"/quotes/{document['id']}/pdf"))
    assert "Quote" in pdf_text(api.get(f"/quotes/{document['id']}/pdf"))
    assert len(renders) == 3                                           # English was still kept
    assert kept_rows(session, document["id"]) == [("en", "ready"), ("es", "ready")]

    assert api.delete(f"/quotes/{document['id']}").status_code == 204
    assert kept_rows(session, document["id"]) == []


def test_a_large_pdf_is_rendered_by_a_worker_while_the_api_answers_202(queued, api, catalog, renders, session):
    document = quote(api, catalog)
    waiting = api.get(f"/quotes/{document['id']}/pdf")
    assert waiting.status_code == 202, waiting.text
    body = waiting.json()
    assert body["status"] == "rendering" and body["cells"] == 16 and 0 <= body["progress"] < 1
    assert 1 <= int(waiting.headers["Retry-After"]) <= 5 and body["seconds_left"] >= 1
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    queued_tasks = tasks(session)
    assert len(queued_tasks) == 1 and renders == []                  # queued once, rendered by no request

    run_task(queued, queued_tasks[0])
    assert len(renders) == 1
    ready = api.get(f"/quotes/{document['id']}/pdf")
    assert "Widget" in pdf_text(ready)
    assert len(renders) == 1 and len(tasks(session)) == 1


def test_the_page_shows_the_progress_and_then_the_pdf(queued, app, make_user, api, catalog, session):
    document = quote(api, catalog)
    browser = sign_in(app, make_user, "sales")
    page = browser.get(f"/quotes/{document['id']}/pdf")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Preparing the PDF of QUO-0001" in html and '<meta http-equiv="refresh"' in html
    assert "<progress" in html and "16 cells (2 lines x 8 columns)" in html
    assert "No background worker is running" in html                 # nobody started one in this test

    run_task(queued, tasks(session)[0])
    ready = browser.get(f"/quotes/{document['id']}/pdf")
    assert ready.status_code == 200 and ready.mimetype == "application/pdf"
    assert "Widget" in pypdf.PdfReader(io.BytesIO(ready.get_data())).pages[0].extract_text()


def test_a_failed_rendering_is_reported_once_and_tried_again(queued, api, catalog, session, monkeypatch):
    document = quote(api, catalog)
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202

    def broken(html):
        raise RuntimeError("fonts are missing")
    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    run_task(queued, tasks(session)[0])
    failed = api.get(f"/quotes/{document['id']}/pdf")
    assert failed.status_code == 409 and failed.json()["error"]["code"] == "pdf_failed"
    assert "fonts are missing" in failed.json()["error"]["message"]

    monkeypatch.undo()
    monkeypatch.setattr(pdf_renders, "INLINE_CELLS", 8)
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    run_task(queued, tasks(session)[-1])
    assert "Widget" in pdf_text(api.get(f"/quotes/{document['id']}/pdf"))


def test_a_rendering_whose_worker_died_is_queued_again(queued, api, catalog, session):
    document = quote(api, catalog)
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    long_ago = dt.datetime.now(dt.timezone.utc) - pdf_renders.STALE_AFTER - dt.timedelta(minutes=1)
    session.execute(update(PdfRender).values(started_at=long_ago))
    session.commit()
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    assert len(tasks(session)) == 2
    run_task(queued, tasks(session)[-1])
    run_task(queued, tasks(session)[0])                            # the first worker comes back: nothing to do
    assert "Widget" in pdf_text(api.get(f"/quotes/{document['id']}/pdf"))


def test_a_document_changed_while_queued_is_printed_as_it_is_now(queued, api, catalog, session, renders):
    document = quote(api, catalog)
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    assert api.patch(f"/quotes/{document['id']}", json={"subject": "Changed meanwhile"}).status_code == 200
    run_task(queued, tasks(session)[0])
    assert renders == [] and kept_rows(session, document["id"]) == []
    assert api.get(f"/quotes/{document['id']}/pdf").status_code == 202
    run_task(queued, tasks(session)[-1])
    assert "Changed meanwhile" in pdf_text(api.get(f"/quotes/{document['id']}/pdf"))


def page_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_work_in_the_background_prints_any_size_in_its_own_transaction(queued, app, api, catalog, session, renders):
    document = quote(api, catalog)
    with app.test_request_context():
        row = session.get(Document, document["id"])
        content = pdf_renders.printed_pdf(session, row)
        session.rollback()                                            # the caller's transaction: nothing kept
        assert session.scalar(select(func.count()).select_from(PdfRender)) == 0
        session.rollback()
        again = pdf_renders.printed_pdf(session, row)                 # rendered anew (not kept)
        assert page_text(again) == page_text(content)                 # WeasyPrint's bytes vary
        session.commit()
        assert pdf_renders.printed_pdf(session, row) == again         # kept this time
    assert len(renders) == 2 and tasks(session) == []
