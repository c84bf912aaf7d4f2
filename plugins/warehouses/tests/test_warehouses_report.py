"""A warehouse's stock report (``/warehouses/<id>/report``): its stock levels per product (on
hand, reserved, available, incoming, reorder level, purchase cost and value, the warehouse's
total value), the low products marked and filterable, and the warehouse's stock moves, newest
first, a page at a time; in Spanish too; for the teams that read the warehouses only."""
from __future__ import annotations

import random
import re
from decimal import Decimal
from html import unescape

from warehouses_helpers import add_warehouse, choose, purchase_order, signed_in


def rows(html: str, attribute: str = "data-product") -> dict[str, list[str]]:
    """The table rows carrying ``attribute``: ``{its value: [cell texts]}``, the low mark kept as
    ``low`` in the row's class."""
    found = {}
    for key, css, body in re.findall(rf'<tr {attribute}="(\d+)"( class="low")?>(.*?)</tr>', html, re.S):
        cells = [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        found[key] = ([*cells, "LOW"] if css else cells)
    return found


def move_rows(html: str) -> list[list[str]]:
    section = html[html.index('class="warehouses-report-moves"'):]
    section = section[:section.index("</table>")]
    section = section[section.index("<tbody>"):]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
            for body in re.findall(r"<tr>(.*?)</tr>", section, re.S)]


def pages_nav(html: str, section: str) -> str:
    """The page links under the stock levels (``levels``) or under the moves (``moves``)."""
    nav = html[html.index(f"warehouses-report-{section}-pages"):]
    return nav[:nav.index("</nav>")]


def link(nav: str, rel: str) -> str | None:
    """The address of the ``prev`` or ``next`` link of a page-links bar (None: there is none)."""
    found = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', nav)
    return unescape(found.group(1)) if found else None


def stocked(api, warehouse, product_id, quantity):
    made = api.post(f"/warehouses/{warehouse['id']}/adjustments",
                    json={"product_id": product_id, "quantity": quantity, "reason": "found"})
    assert made.status_code == 201, made.text


def test_the_stock_report_of_a_warehouse_levels_value_low_stock_and_moves(app, api, catalog, make_user):
    c = catalog
    mad, bcn = add_warehouse(api, "MAD", "Madrid"), add_warehouse(api, "BCN", "Barcelona")
    stocked(api, mad, c.widget, "10")        # 10 x 12.00
    stocked(api, mad, c.gadget, "3.335")     # 3.335 x 3.00 = 10.005: 10.01
    assert api.patch(f"/products/{c.gadget}", json={"reorder_level": "5"}).status_code == 200
    po = purchase_order(api, c, [{"item_id": c.widget, "quantity": "4"}], status="Created")
    choose(api, po["id"], mad["id"])
    assert api.patch(f"/purchase-orders/{po['id']}", json={"status": "Approved"}).status_code == 200
    moved = api.post("/warehouses/transfers", json={"from_warehouse_id": mad["id"], "to_warehouse_id": bcn["id"],
                                                    "lines": [{"product_id": c.widget, "quantity": "2"}]})
    assert api.post(f"/warehouses/transfers/{moved.json()['id']}/ship").status_code == 200
    number = moved.json()["number"]

    client = signed_in(app.test_client(), make_user("purchasing"))
    detail = client.get(f"/warehouses/{mad['id']}").get_data(as_text=True)
    assert f'href="/warehouses/{mad["id"]}/report"' in detail
    page = client.get(f"/warehouses/{mad['id']}/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stock report: MAD · Madrid" in html
    # 8 x 12.00 + 10.01 (each product's value rounded to the cent, then summed)
    assert '<dd data-total="value">€106.01</dd>' in html and '<dd data-total="low">1</dd>' in html
    assert rows(html) == {
        str(c.gadget): ["G-1", "Gadget low", "3.335", "0", "3.335", "0", "5", "€3.00", "€10.01", "LOW"],
        str(c.widget): ["W-1", "Widget", "8", "0", "8", "4", "0", "€12.00", "€96.00"]}
    # the low products only
    low = client.get(f"/warehouses/{mad['id']}/report?low=1").get_data(as_text=True)
    assert list(rows(low)) == [str(c.gadget)] and '<dd data-total="value">€106.01</dd>' in low
    # the moves at MAD, newest first, two a page: the transfer out, then the two adjustments
    first = move_rows(client.get(f"/warehouses/{mad['id']}/report?moves_per_page=2").get_data(as_text=True))
    assert [(m[1], m[2], m[3], m[6]) for m in first] == [("Widget", "-2", "Transfer", number),
                                                         ("Gadget", "+3.335", "Adjustment", "")]
    second_html = client.get(f"/warehouses/{mad['id']}/report?moves_per_page=2&moves_page=2").get_data(as_text=True)
    assert [(m[1], m[2], m[3]) for m in move_rows(second_html)] == [("Widget", "+10", "Adjustment")]
    assert "3–3 of 3" in pages_nav(second_html, "moves") and len(rows(second_html)) == 2

    # BCN holds nothing yet: the widgets in transit are its incoming; the gadget is watched: low there too
    bcn_html = client.get(f"/warehouses/{bcn['id']}/report").get_data(as_text=True)
    assert rows(bcn_html) == {str(c.gadget): ["G-1", "Gadget low", "0", "0", "0", "0", "5", "€3.00", "€0.00", "LOW"],
                              str(c.widget): ["W-1", "Widget", "0", "0", "0", "2", "0", "€12.00", "€0.00"]}
    assert '<dd data-total="value">€0.00</dd>' in bcn_html and "No stock moves yet." in bcn_html
    assert api.post(f"/warehouses/transfers/{moved.json()['id']}/receive").status_code == 200
    bcn_html = client.get(f"/warehouses/{bcn['id']}/report").get_data(as_text=True)
    assert rows(bcn_html)[str(c.widget)] == ["W-1", "Widget", "2", "0", "2", "0", "0", "€12.00", "€24.00"]
    assert [(m[1], m[2], m[3], m[6]) for m in move_rows(bcn_html)] == [("Widget", "+2", "Transfer", number)]

    # an unknown warehouse: 404
    assert client.get("/warehouses/999999/report").status_code == 404


def test_the_report_in_spanish_and_for_the_roles(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD", "Madrid")
    stocked(api, mad, c.widget, "1234.5")
    client = signed_in(app.test_client(), make_user("sales", language="es"))
    html = client.get(f"/warehouses/{mad['id']}/report").get_data(as_text=True)
    assert "Informe de existencias: MAD · Madrid" in html and "Valor de las existencias a precio de compra" in html
    assert "Solo stock bajo" in html and "Movimientos de stock" in html  # the core's words for these
    assert rows(html)[str(c.widget)][2] == "1.234,5"
    assert "14.814,00" in rows(html)[str(c.widget)][8]
    assert "1–1 de 1" in pages_nav(html, "levels") and "1–1 de 1" in pages_nav(html, "moves")
    none_low = client.get(f"/warehouses/{mad['id']}/report?low=1").get_data(as_text=True)
    assert "Ningún producto está bajo en este almacén." in none_low
    for role in ("warehouse", "purchasing", "admin"):
        assert signed_in(app.test_client(), make_user(role)).get(f"/warehouses/{mad['id']}/report").status_code == 200
    assert signed_in(app.test_client(), make_user("accounting")).get(f"/warehouses/{mad['id']}/report").status_code == 403
    assert app.test_client().get(f"/warehouses/{mad['id']}/report").status_code in (302, 401)


def test_the_report_lists_a_page_of_products_and_totals_them_all(app, api, make_user):
    """A page of products at a time, by SKU, with links to the others; the warehouse's value and
    low count cover every product on every page (each product's value rounded to the cent, then
    summed), and ``?low=1`` pages through the low ones only; the moves page on their own."""
    mad = add_warehouse(api, "MAD", "Madrid")
    # sku: (on hand, purchase cost, reorder level)
    products = {"P-01": ("3.335", "3.00", None),     # 10.005: 10.01
                "P-02": ("1", "0.005", "10"),        # 0.005: 0.01, low
                "P-03": ("2.5", "1.001", None),      # 2.5025: 2.50
                "P-04": ("7", "0.0015", None),       # 0.0105: 0.01
                "P-05": ("2", "4.445", "10"),        # 8.89, low
                "P-06": ("0.333", "1.50", None),     # 0.4995: 0.50
                "P-07": (None, "9.99", "3")}         # none held, watched: low
    ids = {}
    for sku, (quantity, cost, level) in products.items():
        made = api.post("/products", json={"name": f"Product {sku}", "sku": sku, "unit_price": "20", "purchase_cost": cost,
                                           **({"reorder_level": level} if level else {})})
        assert made.status_code == 201, made.text
        ids[sku] = str(made.json()["id"])
        if quantity:
            stocked(api, mad, made.json()["id"], quantity)
    client = signed_in(app.test_client(), make_user("warehouse"))
    url = f"/warehouses/{mad['id']}/report"

    def shown(html):
        return [sku for sku, product_id in ids.items() if product_id in rows(html)]

    # the whole list on one page: each value rounded, their sum 21.92 (rounding the sum: 21.91)
    whole = client.get(url).get_data(as_text=True)
    assert shown(whole) == list(products)
    assert [rows(whole)[ids[sku]][8] for sku in products] == ["€10.01", "€0.01", "€2.50", "€0.01", "€8.89",
                                                              "€0.50", "€0.00"]
    assert '<dd data-total="value">€21.92</dd>' in whole and '<dd data-total="low">3</dd>' in whole
    assert "1–7 of 7" in pages_nav(whole, "levels") and link(pages_nav(whole, "levels"), "next") is None

    # three a page: the totals stay those of all seven products on every page
    html = client.get(f"{url}?per_page=3").get_data(as_text=True)
    seen = []
    for expected, span in ((["P-01", "P-02", "P-03"], "1–3 of 7"), (["P-04", "P-05", "P-06"], "4–6 of 7"),
                           (["P-07"], "7–7 of 7")):
        assert shown(html) == expected and len(rows(html)) == len(expected)
        assert span in pages_nav(html, "levels")
        assert '<dd data-total="value">€21.92</dd>' in html and '<dd data-total="low">3</dd>' in html
        seen += expected
        following = link(pages_nav(html, "levels"), "next")
        if expected == ["P-07"]:
            assert following is None
        else:
            html = client.get(following).get_data(as_text=True)
    assert seen == list(products)
    # back from the last page
    previous = link(pages_nav(html, "levels"), "prev")
    assert shown(client.get(previous).get_data(as_text=True)) == ["P-04", "P-05", "P-06"]
    # past the last page: the last one
    assert shown(client.get(f"{url}?per_page=3&page=99").get_data(as_text=True)) == ["P-07"]

    # the low ones only, two a page: the link keeps the filter
    low = client.get(f"{url}?low=1&per_page=2").get_data(as_text=True)
    assert shown(low) == ["P-02", "P-05"] and "1–2 of 3" in pages_nav(low, "levels")
    assert all(row[-1] == "LOW" for row in rows(low).values())
    low = client.get(link(pages_nav(low, "levels"), "next")).get_data(as_text=True)
    assert shown(low) == ["P-07"] and "3–3 of 3" in pages_nav(low, "levels")
    assert '<dd data-total="value">€21.92</dd>' in low and '<dd data-total="low">3</dd>' in low

    # the moves page on their own: four of the six adjustments, then the other two, the stock
    # levels staying on their page
    html = client.get(f"{url}?per_page=3&page=2&moves_per_page=4").get_data(as_text=True)
    assert [m[1] for m in move_rows(html)] == ["Product P-06", "Product P-05", "Product P-04", "Product P-03"]
    html = client.get(link(pages_nav(html, "moves"), "next")).get_data(as_text=True)
    assert [m[1] for m in move_rows(html)] == ["Product P-02", "Product P-01"]
    assert "5–6 of 6" in pages_nav(html, "moves") and shown(html) == ["P-04", "P-05", "P-06"]


def test_the_warehouse_value_rounds_each_product_as_crm_money_does(app, api, make_user, look):
    """The value of the whole stock, summed by the database, equals each product's on hand x cost
    rounded half up by ``crm.money`` then summed: halves rounded up, in currencies of 0, 2 and 3
    decimals, and with a product worth more than SQLite's integers hold (read and summed in
    Python there)."""
    from crm import money
    from crm_warehouses import services, stock

    mad = add_warehouse(api, "MAD", "Madrid")
    rng = random.Random(20)
    # halves at the cent, at the unit and at the thousandth, then random figures
    figures = [("1", "0.005"), ("0.5", "0.01"), ("0.125", "0.04"), ("0.001", "5"), ("2.5", "0.003"),
               ("0.5", "1"), ("1.5", "0.333"), ("0.1", "0.0005"), ("3", "0.0035")]
    figures += [(str(Decimal(rng.randint(1, 999_999)).scaleb(-3)), str(Decimal(rng.randint(1, 9_999_999)).scaleb(-4)))
                for _ in range(25)]
    for n, (quantity, cost) in enumerate(figures):
        made = api.post("/products", json={"name": f"Product {n}", "sku": f"V-{n:02}", "unit_price": "1",
                                           "purchase_cost": cost})
        assert made.status_code == 201, made.text
        stocked(api, mad, made.json()["id"], quantity)

    def valued(currency):
        def read(session):
            return stock.stock_value(session, services.get_warehouse(session, mad["id"]), currency)
        return look(read)

    def expected(currency):
        return money.total(money.round_money(money.multiply(Decimal(q), Decimal(c)), currency) for q, c in figures)

    for currency in ("EUR", "JPY", "KWD"):
        assert valued(currency) == expected(currency), currency
    client = signed_in(app.test_client(), make_user("warehouse"))
    html = client.get(f"/warehouses/{mad['id']}/report?per_page=1").get_data(as_text=True)
    assert f'<dd data-total="value">€{expected("EUR"):,}</dd>' in html and len(rows(html)) == 1

    # 999,999,999 units at 99,999.9995: about 10**14 for this product alone
    huge = api.post("/products", json={"name": "Huge", "sku": "Z-1", "unit_price": "1", "purchase_cost": "99999.9995"})
    assert huge.status_code == 201, huge.text
    stocked(api, mad, huge.json()["id"], "999999999")
    figures.append(("999999999", "99999.9995"))
    assert expected("EUR") > Decimal("99999999000000")
    for currency in ("EUR", "JPY", "KWD"):
        assert valued(currency) == expected(currency), currency
