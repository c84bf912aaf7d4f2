"""The bins' pages: a warehouse's bins page (the tree, what each bin holds and what is not put
away; adding a location, moving and putting away stock, counting a bin, a default bin), the
product page's stock per bin and a sales order's printable picking list; in Spanish too; the
forms for who may change stock only."""
from __future__ import annotations

import re
from html import unescape

from test_warehouses_bins import held, on_hand, shelf_of_bins
from warehouses_helpers import add_warehouse, choose, sales_order, signed_in


def table(html: str, css: str) -> list[list[str]]:
    """The cells of the rows of the table of class ``css``, as text."""
    section = html[html.index(f'class="list {css}"'):]
    body = section[:section.index("</table>")]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*data-bin[^>]*>(.*?)</tr>", body, re.S)]


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_bins_page_moves_counts_and_reports(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD")
    tree = shelf_of_bins(api, mad, "B1", "B2")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "10", "reason": "found"})
    client = signed_in(app.test_client(), make_user("warehouse"))
    page = client.get(f"/warehouses/{mad['id']}/bins")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/warehouses/{mad["id"]}/bins"' in client.get(f"/warehouses/{mad['id']}").get_data(as_text=True)
    assert [row[0] for row in table(html, "warehouses-bins")] == [
        "A", "03", "2", "B1 A / 03 / 2 / B1", "B2 A / 03 / 2 / B2", "Not put away"]
    assert table(html, "warehouses-bins")[-1][3:5] == ["W-1 Widget", "10"]

    # put away 6 into B2, move 2 on to B1: the page shows each bin's widgets
    token = csrf(html)
    done = client.post(f"/warehouses/{mad['id']}/bins/move", data={
        "csrf_token": token, "product_id": str(c.widget), "from_bin_id": "", "to_bin_id": str(tree["B2"]["id"]),
        "quantity": "6"}, follow_redirects=True)
    assert "6 moved." in done.get_data(as_text=True)
    client.post(f"/warehouses/{mad['id']}/bins/move", data={
        "csrf_token": token, "product_id": str(c.widget), "from_bin_id": str(tree["B2"]["id"]),
        "to_bin_id": str(tree["B1"]["id"]), "quantity": "2"})
    rows = table(client.get(f"/warehouses/{mad['id']}/bins").get_data(as_text=True), "warehouses-bins")
    assert [(row[0], row[3], row[4]) for row in rows if row[4]] == [
        ("B1 A / 03 / 2 / B1", "W-1 Widget", "2"), ("B2 A / 03 / 2 / B2", "W-1 Widget", "4"),
        ("Not put away", "W-1 Widget", "4")]

    # more than B1 holds: refused, said on the page, nothing moved
    refused = client.post(f"/warehouses/{mad['id']}/bins/move", data={
        "csrf_token": token, "product_id": str(c.widget), "from_bin_id": str(tree["B1"]["id"]),
        "to_bin_id": str(tree["B2"]["id"]), "quantity": "3"}, follow_redirects=True)
    assert "quantity: at most 2" in unescape(refused.get_data(as_text=True))
    assert held(api, mad, c.widget) == {"A / 03 / 2 / B1": "2", "A / 03 / 2 / B2": "4", None: "4"}

    # a count of B1, a default bin, a new bin
    counted = client.post(f"/warehouses/{mad['id']}/bins/count", data={
        "csrf_token": token, "product_id": str(c.widget), "bin_id": str(tree["B1"]["id"]), "counted_quantity": "5"},
        follow_redirects=True)
    assert "changed by 3" in counted.get_data(as_text=True)
    assert held(api, mad, c.widget)["A / 03 / 2 / B1"] == "5" and on_hand(api, mad, c.widget) == "13"
    client.post(f"/warehouses/{mad['id']}/bins/default", data={
        "csrf_token": token, "product_id": str(c.gadget), "bin_id": str(tree["B2"]["id"])})
    assert api.get(f"/warehouses/{mad['id']}/default-bins").json()["items"][0]["path"] == "A / 03 / 2 / B2"
    client.post(f"/warehouses/{mad['id']}/bins/new", data={
        "csrf_token": token, "parent_id": str(tree["shelf"]["id"]), "kind": "bin", "code": "B3", "name": ""})
    assert "A / 03 / 2 / B3" in [n["path"] for n in api.get(f"/warehouses/{mad['id']}/bins").json()["items"]]

    # the product page: stock per bin
    product = client.get(f"/products/{c.widget}").get_data(as_text=True)
    section = product[product.index("warehouses-bins-stock"):]
    cells = [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in
             re.findall(r"<td[^>]*>(.*?)</td>", section[:section.index("</table>")], re.S)]
    assert cells == ["MAD", "A / 03 / 2 / B1", "5", "MAD", "A / 03 / 2 / B2", "4", "MAD", "Not put away", "4"]

    # who may not change stock reads the page without its forms, and is refused the forms
    sales = signed_in(app.test_client(), make_user("sales"))
    seen = sales.get(f"/warehouses/{mad['id']}/bins").get_data(as_text=True)
    assert "warehouses-bin-move" not in seen and "A / 03 / 2 / B1" in seen
    assert sales.post(f"/warehouses/{mad['id']}/bins/move", data={"csrf_token": csrf(seen)}).status_code == 403


def test_the_picking_list_page_in_spanish(app, api, catalog, make_user):
    c = catalog
    mad = add_warehouse(api, "MAD")
    tree = shelf_of_bins(api, mad, "B1", "B2")
    api.post(f"/warehouses/{mad['id']}/adjustments", json={"product_id": c.widget, "quantity": "10", "reason": "found"})
    for code, quantity in (("B2", "5"), ("B1", "3")):
        api.post(f"/warehouses/{mad['id']}/bins/moves", json={"product_id": c.widget, "to_bin_id": tree[code]["id"],
                                                             "quantity": quantity})
    order = sales_order(api, c, [{"item_id": c.widget, "quantity": "9"}])
    choose(api, order["id"], mad["id"])
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    client = signed_in(app.test_client(), make_user("warehouse", language="es"))
    detail = client.get(f"/sales-orders/{order['id']}").get_data(as_text=True)
    assert f'href="/warehouses/picking/{order["id"]}"' in detail and "Lista de picking" in detail
    page = client.get(f"/warehouses/picking/{order['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Lista de picking de {order['number']}" in unescape(html)
    assert [(row[1], row[2], row[5]) for row in table(html, "warehouses-picking")] == [
        ("A / 03 / 2 / B1", "W-1", "3"), ("A / 03 / 2 / B2", "W-1", "5"), ("Sin ubicar", "W-1", "1")]
    bins_page = client.get(f"/warehouses/{mad['id']}/bins").get_data(as_text=True)
    assert "Mover o ubicar existencias" in bins_page and "Contar una ubicación" in bins_page
    assert client.get("/warehouses/picking/999999").status_code == 404
