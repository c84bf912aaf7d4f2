"""Exports of the list pages: every list page of the app (found in its URL map: a GET page
without arguments that shows a paginated list) offers CSV and Excel exports of the rows it
lists -- its search and sort kept, every row, the page's column labels --; text that a
spreadsheet would take for a formula stays text; amounts, quantities and dates keep their
type; a large export is streamed; reading the list is what it takes to export it."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from crm.models import Account, Item
from tests.test_web_pages import sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_A_LIST = re.compile(r"/(login|logout|api|static)(/|$)")


@pytest.fixture
def demo(runner):
    result = runner.invoke(["demo"])
    assert result.exit_code == 0, result.output


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def list_pages(app, client) -> dict[str, str]:
    """url -> html of every GET page without arguments that shows a paginated list."""
    found = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or NOT_A_LIST.search(rule.rule):
            continue
        response = client.get(rule.rule)
        html = response.get_data(as_text=True)
        if response.status_code == 200 and 'class="pagination"' in html and '<table class="list' in html:
            found[rule.rule] = html
    return found


def table_of(html: str) -> tuple[list[str], list[str]]:
    """(visible header labels, text of each row) of a page's list."""
    table = re.search(r'<table class="list.*?</table>', html, re.S).group(0)
    heads = [_text(re.sub(r'<span class="sr-only">.*?</span>|<span aria-hidden="true">.*?</span>', "", th))
             for th in re.findall(r"<th\b.*?</th>", table, re.S)]
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    rows = [_text(tr) for tr in re.findall(r"<tr\b.*?</tr>", body, re.S) if 'class="muted"' not in tr]
    return [h for h in heads if h], rows


def export_links(html: str) -> dict[str, str]:
    links = {}
    for href in re.findall(r'href="([^"]*export=(?:csv|xlsx)[^"]*)"', html):
        href = unescape(href)
        links["csv" if "export=csv" in href else "xlsx"] = href
    return links


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def xlsx_rows(response) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]


def as_typed(cell: str) -> str:
    """A CSV text cell without the apostrophe that keeps a spreadsheet from reading a formula."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def is_text(cell: str) -> bool:
    """A CSV cell a page shows as typed (not a number or a date, which pages format)."""
    return bool(cell) and not re.fullmatch(r"-?\d+(\.\d+)?|\d{4}-\d\d-\d\d( [\d:]+)?", cell)


def test_every_list_page_exports_the_rows_it_shows(app, make_user, demo):
    client = sign_in(app, make_user, "admin")
    pages = list_pages(app, client)
    assert {"/accounts/", "/contacts/", "/vendors/", "/products/", "/services/", "/bundles/", "/price-books/",
            "/quotes/", "/sales-orders/", "/purchase-orders/", "/invoices/", "/stock/", "/stock/moves",
            "/users/"} <= set(pages), sorted(pages)
    for url, html in pages.items():
        assert set(export_links(html)) == {"csv", "xlsx"}, url
        # narrow the list by its search (a word of its first row) and sort it by its first sortable column
        _heads, rows = table_of(html)
        query = {}
        if 'name="q"' in html and rows:
            query["q"] = rows[0].split(" ")[0]
        sort = re.search(r'href="[^"]*[?&]sort=([^"&]+)[^"]*" class="sort"', html)
        if sort:
            query["sort"] = "-" + unescape(sort.group(1)).lstrip("-")
        query["per_page"] = "200"
        shown = client.get(url, query_string=query)
        page_html = shown.get_data(as_text=True)
        heads, rows = table_of(page_html)
        total = int(re.search(r"of ([\d,.]+)", _text(re.search(r'<nav class="pagination".*?</nav>', page_html,
                                                                  re.S).group(0))).group(1).replace(",", ""))
        links = export_links(page_html)
        for key in query:
            if key != "per_page":
                assert f"{key}=" in links["csv"] and f"{key}=" in links["xlsx"], (url, links)

        as_csv = client.get(links["csv"])
        assert as_csv.status_code == 200 and as_csv.content_type.startswith("text/csv"), url
        assert "attachment" in as_csv.headers["Content-Disposition"]
        table = csv_rows(as_csv)
        assert table[0] == heads, url
        assert len(table) - 1 == total, url
        for row, text in zip(table[1:], rows):
            missing = [cell for cell in map(as_typed, row) if is_text(cell) and cell not in text]
            assert not missing, (url, row, text)

        as_xlsx = client.get(links["xlsx"])
        assert as_xlsx.status_code == 200 and as_xlsx.content_type == XLSX, url
        sheet = xlsx_rows(as_xlsx)
        assert list(sheet[0]) == heads, url
        assert len(sheet) == len(table), url
        for csv_row, xlsx_row in zip(table[1:], sheet[1:]):
            assert [c for c in map(as_typed, csv_row) if is_text(c)] == \
                [c for c in xlsx_row if isinstance(c, str) and is_text(c)], url


def test_formula_cells_stay_text(app, make_user, session):
    names = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTabbed", "\rReturn",
             "Plain name"]
    session.add_all([Account(name=n) for n in names])
    session.commit()
    client = sign_in(app, make_user, "admin")
    table = csv_rows(client.get("/accounts/?export=csv&sort=name"))
    exported = {row[0] for row in table[1:]}
    assert exported == {("'" + n if n[0] in "=+-@\t\r" else n) for n in names}
    response = client.get("/accounts/?export=xlsx&sort=name")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert {c.data_type for c in cells} == {"s"}
    assert {c.value for c in cells} == set(names)


def test_amounts_quantities_and_dates_keep_their_type(app, make_user, catalog, demo):
    client = sign_in(app, make_user, "admin")
    table = csv_rows(client.get("/products/?export=csv&q=Gadget"))
    assert table[1][table[0].index("Unit price")] == "7.455"
    sheet = load_workbook(io.BytesIO(client.get("/products/?export=xlsx&q=Gadget").get_data())).active
    header = [c.value for c in sheet[1]]
    price = sheet.cell(row=2, column=header.index("Unit price") + 1)
    assert price.value == Decimal("7.455") or price.value == 7.455
    assert price.number_format == "#,##0.000"
    sheet = load_workbook(io.BytesIO(client.get("/invoices/?export=xlsx").get_data())).active
    header = [c.value for c in sheet[1]]
    dates = [sheet.cell(row=r, column=header.index("Invoice date") + 1).value for r in range(2, sheet.max_row + 1)]
    assert dates and all(isinstance(d, dt.datetime) for d in dates if d is not None)
    totals = [sheet.cell(row=r, column=header.index("Total") + 1) for r in range(2, sheet.max_row + 1)]
    assert all(c.data_type == "n" and c.number_format.startswith("#,##0.00") for c in totals)
    csv_table = csv_rows(client.get("/invoices/?export=csv"))
    assert all(re.fullmatch(r"-?\d+\.\d{2,}", row[csv_table[0].index("Total")]) for row in csv_table[1:])


@pytest.mark.slow
def test_a_large_export_is_streamed(app, make_user, session):
    session.execute(insert(Item), [{"kind": "product", "name": f"Item {n:05}", "sku": f"SKU-{n:05}",
                                    "unit_price": Decimal("1.50")} for n in range(20_000)])
    session.commit()
    client = sign_in(app, make_user, "admin")
    response = client.get("/products/?export=csv")
    assert response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 20_001 and lines[1].startswith("Item 00000,SKU-00000,,1.50")
    response = client.get("/products/?export=xlsx")
    assert response.direct_passthrough or response.is_streamed
    assert len(xlsx_rows(response)) == 20_001


def test_changes_are_saved_while_an_export_is_downloaded(app, make_user, session):
    """An export reads a snapshot of the list in a transaction that takes no lock: a change saved
    while the file is being downloaded goes through at once (on SQLite a request's transaction
    holds the writers' lock, which every sale and change would wait for, and give up), and the
    file begun before it does not show it."""
    from crm.db import make_engine
    session.execute(insert(Item), [{"kind": "product", "name": f"Item {n:05}", "unit_price": Decimal("1.50")}
                                   for n in range(2_500)])   # three batches of the export
    session.commit()
    client = sign_in(app, make_user, "admin")
    response = client.get("/products/?export=csv", buffered=False)
    chunks = iter(response.response)
    received = [next(chunks)]   # the first thousand rows: the export's reading has begun
    url = app.config["DATABASE_URL"]
    other = make_engine(url, **({"connect_args": {"timeout": 2}} if url.startswith("sqlite") else {}))
    try:
        with other.begin() as connection:   # waits at most 2 s for a lock
            connection.execute(insert(Item), [{"kind": "product", "name": "Added meanwhile",
                                               "unit_price": Decimal("2.00")}])
    finally:
        other.dispose()
    received.extend(chunks)
    response.close()
    lines = b"".join(received).decode().splitlines()
    assert len(lines) == 2_501 and not any("Added meanwhile" in line for line in lines)
    assert "Added meanwhile" in client.get("/products/?export=csv").get_data(as_text=True)


def test_exporting_a_list_takes_reading_it(app, make_user):
    client = sign_in(app, make_user, "sales")
    assert client.get("/users/").status_code == 403
    for fmt in ("csv", "xlsx"):
        assert client.get(f"/users/?export={fmt}").status_code == 403
