"""What the domain refuses is said in the user's language: a Spanish user reads the API's
messages and the pages' banners and field messages in Spanish, an English user in English;
the error codes and field keys are the same in both. Without a user (CLI, jobs) it is English."""
from __future__ import annotations

from decimal import Decimal

from crm.errors import ValidationError
from crm.models import Document
from crm.services import documents, stock
from crm.testing import TEST_PASSWORD


def _sales_order(session, catalog) -> tuple[int, str]:
    order = documents.create_document(session, "sales_order", {
        "account_id": catalog.account, "lines": [{"item_id": catalog.widget, "quantity": Decimal("2")}]})
    session.commit()
    return order.id, order.number


def test_the_api_answers_in_the_users_language_with_the_same_codes_and_fields(api_as, make_user, session, catalog):
    english = api_as("admin")
    spanish = api_as(user=make_user("admin", language="es"))
    order_id, number = _sales_order(session, catalog)

    shipped = [client.post(f"/sales-orders/{order_id}/shipments", json={}) for client in (english, spanish)]
    assert [r.status_code for r in shipped] == [409, 409]
    assert [r.json()["error"]["code"] for r in shipped] == ["invalid_transition"] * 2
    assert shipped[0].json()["error"]["message"] == (
        f"{number} is Created; only an approved sales order can be shipped")
    assert shipped[1].json()["error"]["message"] == (
        f"{number} está en Creado; solo se puede enviar un pedido de venta aprobado")

    body = {"product_id": catalog.kit, "quantity": "1", "reason": "found"}
    refused = [client.post("/stock/adjustments", json=body) for client in (english, spanish)]
    assert [r.status_code for r in refused] == [422, 422]
    fields = [r.json()["error"]["fields"] for r in refused]
    assert fields[0] == {"product_id": ["a bundle has no stock of its own; adjust its components"]}
    assert fields[1] == {"product_id": ["un lote no tiene stock propio; ajusta sus componentes"]}


def test_a_spanish_user_reads_the_refusal_of_a_status_change_in_spanish(app, make_user, session, catalog):
    order_id, _number = _sales_order(session, catalog)
    user = make_user("sales", language="es")
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": TEST_PASSWORD}).status_code == 302
    page = client.post(f"/sales-orders/{order_id}/status", data={"status": "Delivered"}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "un documento de tipo pedido de venta no puede pasar de Creado a Entregado" in html
    assert "cannot go from" not in html
    session.expire_all()
    assert session.get(Document, order_id).status == "Created"   # nothing changed


def test_without_a_user_the_domain_speaks_english(app, session, catalog):
    with app.app_context():
        try:
            stock.adjust(session, catalog.widget, quantity=Decimal("1"), reason="stolen")
        except ValidationError as exc:
            assert exc.fields == {"reason": ["must be one of damaged, lost, found, count_correction, other"]}
        else:
            raise AssertionError("an unknown reason was accepted")


def test_marshmallows_own_messages_are_translated_too(api_as, make_user):
    english = api_as("admin")
    spanish = api_as(user=make_user("admin", language="es"))
    requests = [("post", "/accounts", {"json": {}}), ("get", "/products?per_page=1000", {}),
                ("post", "/products", {"json": {"name": "Drill", "unit_price": "abc", "active": "maybe"}})]
    answers = {name: [getattr(client, method)(path, **kw).json()["error"]["fields"] for method, path, kw in requests]
               for name, client in (("en", english), ("es", spanish))}
    assert answers["en"] == [
        {"name": ["Missing data for required field."]},
        {"per_page": ["Must be greater than or equal to 1 and less than or equal to 200."]},
        {"unit_price": ["Not a valid number."], "active": ["Not a valid boolean."]}]
    assert answers["es"] == [
        {"name": ["Falta este dato obligatorio."]},
        {"per_page": ["Debe ser mayor o igual que 1 y menor o igual que 200."]},
        {"unit_price": ["No es un número válido."], "active": ["No es un valor verdadero/falso válido."]}]
