"""A warehouse's stock report (``/warehouses/<id>/report``): its stock levels per product (on
hand, reserved, available, incoming, reorder level, purchase cost and value, the warehouse's
total value), the low products marked and filterable, and the warehouse's stock moves, newest
first, a page at a time; in Spanish too; for the teams that read the warehouses only."""
from __future__ import annotations

import re
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
    first = move_rows(client.get(f"/warehouses/{mad['id']}/report?per_page=2").get_data(as_text=True))
    assert [(m[1], m[2], m[3], m[6]) for m in first] == [("Widget", "-2", "Transfer", number),
                                                         ("Gadget", "+3.335", "Adjustment", "")]
    second_html = client.get(f"/warehouses/{mad['id']}/report?per_page=2&page=2").get_data(as_text=True)
    assert [(m[1], m[2], m[3]) for m in move_rows(second_html)] == [("Widget", "+10", "Adjustment")]
    assert "3–3 of 3" in second_html

    # BCN holds nothing yet (the widgets are in transit), but the gadget is watched: low there too
    bcn_html = client.get(f"/warehouses/{bcn['id']}/report").get_data(as_text=True)
    assert rows(bcn_html) == {str(c.gadget): ["G-1", "Gadget low", "0", "0", "0", "0", "5", "€3.00", "€0.00", "LOW"]}
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
    none_low = client.get(f"/warehouses/{mad['id']}/report?low=1").get_data(as_text=True)
    assert "Ningún producto está bajo en este almacén." in none_low
    for role in ("warehouse", "purchasing", "admin"):
        assert signed_in(app.test_client(), make_user(role)).get(f"/warehouses/{mad['id']}/report").status_code == 200
    assert signed_in(app.test_client(), make_user("accounting")).get(f"/warehouses/{mad['id']}/report").status_code == 403
    assert app.test_client().get(f"/warehouses/{mad['id']}/report").status_code in (302, 401)
