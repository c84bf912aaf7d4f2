"""Every edit form of the core, opened on a fully populated record and submitted untouched as a
browser would submit it, changes nothing: the record read through the API (or its service, for
records without an API) is the same before and after.

The forms are found in the app's URL map (:func:`crm.testing.edit_forms`): a form without a case
here, and not declared as something else than an edit form, fails the test. The records carry
every field, custom fields of every type (a required choice set to another value than the first),
taxes, bundle components, addresses, price book prices, lines of every kind and a recurring
schedule. Each plugin tests its own edit forms in its own suite the same way."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from crm.db import db
from crm.models import Sequence, User
from crm.testing import TEST_PASSWORD, check_round_trip, comparable, edit_forms, seeded_template

pytestmark = pytest.mark.crm_plugins("hello")

#: pages of the URL map that look like edit forms but edit nothing that exists
NOT_EDIT_FORMS = {
    "/login": "signs in",
    "/stock/adjust": "records a new stock move",
    "/sales-orders/<int:doc_id>/ship": "records a shipment",
    "/sales-orders/<int:doc_id>/invoice": "creates an invoice from the order",
    "/purchase-orders/<int:doc_id>/receive": "records a receipt",
    **{f"/{path}/<int:doc_id>/email": "sends the document by email (a new message)"
       for path in ("quotes", "sales-orders", "purchase-orders", "invoices")},
    "/imports/<int:import_id>/mapping": "a step of a new import: previews the file with the options chosen "
                                        "(a named mapping it saves is a new record)",
    "/admin/plugins/<plugin_id>/purge": "a confirmation: drops a plugin's tables once its id is typed back",
}

CHOICES = ["red", "green", "blue"]
#: a value of every custom field type; the required choice is not the first one
CUSTOM = {"f_text": "Pasillo 3, «estante» B", "f_number": 42, "f_decimal": "3.25", "f_date": "2027-03-04",
          "f_flag": True, "f_choice": "green"}
CUSTOM_TYPES = {"f_text": "text", "f_number": "number", "f_decimal": "decimal", "f_date": "date",
                "f_flag": "boolean", "f_choice": "select"}
ADDRESS = {"street": "Calle Mayor 1, 2º", "city": "Madrid", "state": "Madrid", "postal_code": "28013",
           "country": "ES"}
OTHER_ADDRESS = {"street": "Muelle 4", "city": "Bilbao", "state": "Bizkaia", "postal_code": "48001",
                 "country": "ES"}
TEXT = "First line\nsecond line: «quoted» & <b>not bold</b>"


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class World:
    """The master data every record refers to, made through the API."""

    api: object
    ids: dict = field(default_factory=dict)

    def read(self, path: str) -> dict:
        response = self.api.get(path)
        assert response.status_code == 200, response.text
        return comparable(response.json())


@pytest.fixture(scope="module")
def crm_template_database(crm_template_database, crm_extra_plugins, tmp_path_factory):
    """The session's template with the world's records: each test starts from a copy."""
    with seeded_template(crm_template_database, tmp_path_factory.mktemp("world"), lambda api: _make_world(api).ids,
                         plugins=["hello"], extra=crm_extra_plugins) as template:
        yield template


@pytest.fixture
def world(api, crm_template_database) -> World:
    return World(api, dict(crm_template_database.seeded))


def _make_world(api) -> World:
    w = World(api)
    for entity in ("accounts", "contacts", "vendors", "items", "documents"):
        for position, (key, kind) in enumerate(CUSTOM_TYPES.items()):
            created(api.post("/custom-fields", json={
                "entity": entity, "key": key, "label": key.replace("f_", "Field ").title(), "type": kind,
                "choices": CHOICES if kind == "select" else [], "required": kind == "select",
                "position": position}))
    ids = w.ids
    ids["iva21"] = created(api.post("/taxes", json={"name": "IVA 21%", "rate": "21", "applies_to": "both"}))["id"]
    ids["iva10"] = created(api.post("/taxes", json={"name": "IVA 10%", "rate": "10"}))["id"]
    ids["recargo"] = created(api.post("/taxes", json={"name": "Recargo 5.2%", "rate": "5.2"}))["id"]
    ids["ship"] = created(api.post("/taxes", json={"name": "Envío 21%", "rate": "21",
                                                    "applies_to": "shipping"}))["id"]
    ids["account"] = created(api.post("/accounts", json={
        "name": "Ferretería López S.L.", "email": "compras@lopez.example", "phone": "+34 910 000 000",
        "website": "https://lopez.example", "tax_id": "B12345678", "billing_address": ADDRESS,
        "shipping_address": OTHER_ADDRESS, "description": TEXT, "custom": CUSTOM}))["id"]
    ids["contact"] = created(api.post("/contacts", json={
        "first_name": "Ana", "last_name": "López", "title": "Compras", "email": "ana@lopez.example",
        "phone": "600 000 000", "account_id": ids["account"], "custom": CUSTOM}))["id"]
    ids["vendor_contact"] = created(api.post("/contacts", json={
        "first_name": "Iker", "last_name": "Norte", "custom": CUSTOM}))["id"]
    ids["vendor"] = created(api.post("/vendors", json={
        "name": "Suministros Norte", "email": "pedidos@norte.example", "phone": "944 000 000",
        "website": "https://norte.example", "address": OTHER_ADDRESS, "description": TEXT, "custom": CUSTOM}))["id"]
    ids["product"] = created(api.post("/products", json={
        "name": "Widget", "sku": "W-1", "unit_price": "19.99", "purchase_cost": "12.5", "usage_unit": "box",
        "qty_per_unit": "2.5", "category": "Hardware", "subcategory": "Small", "manufacturer": "Acme",
        "vendor_id": ids["vendor"], "reorder_level": "7", "description": TEXT,
        "tax_ids": [ids["iva21"], ids["recargo"]], "custom": CUSTOM}))["id"]
    ids["gadget"] = created(api.post("/products", json={
        "name": "Gadget", "sku": "G-1", "unit_price": "7.455", "tax_ids": [ids["iva10"]], "custom": CUSTOM}))["id"]
    ids["service"] = created(api.post("/services", json={
        "name": "Consulting hour", "unit_price": "40", "purchase_cost": "25", "usage_unit": "hour",
        "category": "Services", "description": TEXT, "tax_ids": [ids["iva21"], ids["recargo"]],
        "custom": CUSTOM}))["id"]
    ids["bundle"] = created(api.post("/products", json={
        "name": "Starter kit", "sku": "KIT-1", "unit_price": "45", "usage_unit": "kit", "category": "Kits",
        "subcategory": "Starter", "manufacturer": "Acme", "vendor_id": ids["vendor"], "description": TEXT,
        "tax_ids": [ids["iva21"], ids["recargo"]], "custom": CUSTOM,
        "components": [{"product_id": ids["product"], "quantity": "2"},
                       {"product_id": ids["gadget"], "quantity": "1.5"}]}))["id"]
    ids["price_book"] = created(api.post("/price-books", json={
        "name": "Wholesale", "currency": "EUR", "description": TEXT, "prices": [
            {"item_id": ids["product"], "list_price": "17.5"}, {"item_id": ids["service"], "list_price": "35.25"},
            {"item_id": ids["bundle"], "list_price": "40"}]}))["id"]
    return w


# --- the cases: a record of each edit form, and how to read it back --------------------------------

@dataclass
class Case:
    page: str
    read: object                  # callable() -> the record as the API (or the service) gives it
    action: str | None = None     # the form's target when it is not the page itself
    user: object = None           # sign in as this user (default: an administrator)


def _record_case(path: str, page: str):
    def make(world: World, app) -> Case:
        record_id = world.ids[path]
        api_path = {"price_book": "price-books", "account": "accounts", "contact": "contacts",
                    "vendor": "vendors", "product": "products", "service": "services",
                    "bundle": "products"}[path]
        return Case(f"/{page}/{record_id}/edit", lambda: world.read(f"/{api_path}/{record_id}"))
    return make


def _tax(world: World, app) -> Case:
    tax_id = world.ids["recargo"]
    world.api.patch(f"/taxes/{tax_id}", json={"active": False})
    return Case(f"/taxes/{tax_id}/edit", lambda: world.read(f"/taxes/{tax_id}"))


def _custom_field(world: World, app) -> Case:
    field_id = created(world.api.post("/custom-fields", json={
        "entity": "vendors", "key": "tier", "label": "Tier", "type": "select", "choices": ["gold", "silver"],
        "required": False, "position": 9, "active": False}))["id"]
    return Case(f"/custom-fields/{field_id}/edit", lambda: world.read(f"/custom-fields/{field_id}"))


def _row(app, model, record_id) -> dict:
    with app.app_context():
        session = db.new_session(app)
        try:
            record = session.get(model, record_id)
            return comparable({c.name: getattr(record, c.name) for c in model.__table__.columns})
        finally:
            session.close()


def _user(world: World, app) -> Case:
    from crm.services.users import create_user
    with app.app_context():
        session = db.new_session(app)
        user = create_user(session, "clerk", TEST_PASSWORD, "accounting", full_name="Clara Clerk",
                           email="clara@example.com", language="es")
        session.commit()
        user_id = user.id
        session.close()
    return Case(f"/users/{user_id}", lambda: _row(app, User, user_id))


def _profile(world: World, app) -> Case:
    from crm.services.users import create_user
    with app.app_context():
        session = db.new_session(app)
        user = create_user(session, "seller", TEST_PASSWORD, "sales", full_name="Sara Seller",
                           email="sara@example.com", language="es")
        session.commit()
        user_id, username = user.id, user.username
        session.close()
    return Case("/profile/", lambda: _row(app, User, user_id), user=username)


def _settings(world: World, app) -> Case:
    from crm.services import numbering
    from crm.services.settings import all_settings, set_setting
    with app.app_context():
        session = db.new_session(app)
        set_setting(session, "company_name", "Ferretería Central S.A.")
        set_setting(session, "company_address", "Calle Mayor 1\n28013 Madrid")
        set_setting(session, "default_currency", "USD")
        set_setting(session, "allow_backorders", True)
        set_setting(session, "allow_negative_stock", False)
        numbering.configure(session, "quote", prefix="P-", padding=6, next_value=120)
        numbering.configure(session, "invoice", prefix="FAC/2027/", padding=3, next_value=7)
        session.commit()
        session.close()

    def read():
        with app.app_context():
            session = db.new_session(app)
            try:
                sequences = {s.doc_type: comparable({c.name: getattr(s, c.name) for c in Sequence.__table__.columns})
                             for s in session.scalars(select(Sequence))}
                return {"settings": all_settings(session), "numbering": sequences}
            finally:
                session.close()
    return Case("/settings/", read)


def _email_settings(world: World, app) -> Case:
    from crm.models import Setting
    from crm.services import email
    with app.app_context():
        session = db.new_session(app)
        email.save_smtp_settings(session, {"host": "smtp.example.com", "port": 465, "security": "tls",
                                           "username": "crm@example.com", "password": "s3cret «pw»",
                                           "sender": "billing@example.com", "sender_name": "Ferretería «Central»",
                                           "timeout": 20})
        session.commit()
        session.close()

    def read():
        with app.app_context():
            session = db.new_session(app)
            try:
                return comparable(session.get(Setting, ("email", "smtp")).value)
            finally:
                session.close()
    return Case("/admin/email/", read)


def _email_template(world: World, app) -> Case:
    from crm.models import EmailTemplate
    from crm.services import email
    with app.app_context():
        session = db.new_session(app)
        template_id = email.save_template(session, "invoice", "es", "Factura {{ document.number }} «urgente»",
                                          "Hola {{ contact.first_name }}:\n\n  adjunta.\n").id
        session.commit()
        session.close()
    return Case("/admin/email/templates/invoice/es", lambda: _row(app, EmailTemplate, template_id))


def _workflow(body):
    """A workflow rule made through the API (``body(world)``), read back as its stored row (the
    webhook key included)."""
    def make(world: World, app) -> Case:
        from crm.models import WorkflowRule
        rule_id = created(world.api.post("/workflows", json=body(world)))["id"]
        return Case(f"/admin/workflows/{rule_id}/edit", lambda: _row(app, WorkflowRule, rule_id))
    return make


def _full_workflow(world: World) -> dict:
    """Every input of the form used: a date trigger with an offset, five conditions (another
    field, a unary operator, text with quotes), three actions of the form's kinds."""
    return {"name": "Recordatorio «vencida» & más", "description": TEXT, "enabled": True, "entity": "invoices",
            "trigger": {"event": "date", "field": "due_date", "offset_days": -3},
            "conditions": {"match": "any", "items": [
                {"field": "status", "op": "!=", "value": "Paid"},
                {"field": "balance", "op": ">", "value": "0.50"},
                {"field": "subject", "op": "contains", "value": "«fitting» & <b>"},
                {"field": "customer_reference", "op": "is not empty"},
                {"field": "due_date", "op": ">=", "value_field": "invoice_date"}]},
            "actions": [
                {"type": "send_email", "to": ["party", "role:accounting", "ana@lopez.example"],
                 "cc": ["contact", "jefe@lopez.example"], "language": "es", "attach_pdf": True,
                 "subject": "Factura {{ document.number }} «vencida»",
                 "body": "Hola {{ contact.first_name or party.name }}:\n\n  adjunta.\n"},
                {"type": "notify", "role": "purchasing", "title": "Vence {{ document.number }}",
                 "message": "Saldo {{ document.balance }}\nsegunda línea"},
                {"type": "webhook", "url": "https://hooks.example.com/crm?x=1&y=«2»"}]}


def _other_workflow(world: World) -> dict:
    """The other action kinds and triggers: a status change to a status, a field set, a comment,
    a user notified by id."""
    return {"name": "Aprobada", "description": "", "enabled": False, "entity": "quotes",
            "trigger": {"event": "status_changed", "to_status": "Accepted"},
            "conditions": {"match": "all", "items": [{"field": "grand_total", "op": "<", "value": "1000"}]},
            "actions": [
                {"type": "update_field", "field": "description", "value": "Aceptado «por» {{ x }}"},
                {"type": "add_comment", "text": "Aceptada:\n{{ record.subject }}"},
                {"type": "notify", "user_id": 1, "title": "Aceptada {{ document.number }}", "message": ""}]}


def _api_workflow(world: World) -> dict:
    """What only the API makes: a group of conditions between comparisons, more comparisons and
    actions than the form has rows, typed values (a number, a boolean, a null): the form keeps
    what it does not show, and values it shows as text stay of their type."""
    return {"name": "API", "entity": "invoices", "trigger": {"event": "updated"},
            "conditions": {"match": "all", "items": [
                {"field": "balance", "op": ">", "value": 0},
                {"match": "any", "items": [{"field": "status", "op": "=", "value": "Approved"},
                                           {"match": "all", "items": [{"field": "stock_moved", "op": "=",
                                                                       "value": True}]}]},
                *({"field": "subject", "op": "!=", "value": f"S{i}"} for i in range(5)),
                {"field": "due_date", "op": "is empty"}]},
            "actions": [{"type": "update_field", "field": "due_date", "value": None},
                        *({"type": "add_comment", "text": f"Comment {i}"} for i in range(4))]}


def _sparse_workflow(world: World) -> dict:
    return {"name": "W", "entity": "accounts", "trigger": {"event": "created"},
            "actions": [{"type": "add_comment", "text": "x"}]}


def _lines(ids: dict, party: str) -> list[dict]:
    return [
        {"display_type": "section", "description": "Hardware"},
        {"item_id": ids["product"], "quantity": "3", "unit_price": "19.99", "discount_percent": "10",
         "tax_ids": [ids["iva21"], ids["recargo"]], "description": TEXT, "comment": "fragile"},
        {"item_id": ids["gadget"], "quantity": "2.5", "unit_price": "7.455", "discount_amount": "1.25",
         "tax_ids": [ids["iva10"]]},
        {"display_type": "note", "description": "Delivered in two boxes"},
        {"item_id": ids["service" if party == "account" else "product"], "quantity": "1", "unit_price": "0",
         "tax_ids": []},
    ]


def _document(path: str, doc_type: str, tax_mode: str = "individual"):
    def make(world: World, app) -> Case:
        ids = world.ids
        party = "vendor" if doc_type == "purchase_order" else "account"
        body = {f"{party}_id": ids[party], "contact_id": ids["contact" if party == "account" else "vendor_contact"],
                "subject": "Shop «fitting» & more", "currency": "EUR", "tax_mode": tax_mode,
                "group_tax_ids": [ids["iva21"], ids["recargo"]] if tax_mode == "group" else [],
                "lines": _lines(ids, party), "discount_percent": "5", "shipping_amount": "12.5",
                "shipping_tax_ids": [ids["ship"]], "adjustment": "-0.02", "billing_address": ADDRESS,
                "shipping_address": OTHER_ADDRESS, "terms": TEXT, "description": TEXT, "custom": CUSTOM}
        if party == "account":
            body["customer_reference"] = "PO-7788"
        if doc_type == "quote":
            body["valid_until"] = "2027-05-31"
        else:
            body["due_date"] = "2027-06-30"
        if doc_type == "invoice":
            body["invoice_date"] = "2027-05-31"
            body["discount_percent"], body["discount_amount"] = None, "3.5"
        if doc_type == "sales_order":
            body["recurring"] = {"frequency": "monthly", "start_date": "2027-01-15", "end_date": "2027-12-15",
                                 "payment_terms_days": 45, "invoice_status": "Approved"}
        doc_id = created(world.api.post(f"/{path}", json=body))["id"]
        return Case(f"/{path}/{doc_id}/edit", lambda: world.read(f"/{path}/{doc_id}"))
    return make


CASES = {
    "/accounts/<int:record_id>/edit": _record_case("account", "accounts"),
    "/contacts/<int:record_id>/edit": _record_case("contact", "contacts"),
    "/vendors/<int:record_id>/edit": _record_case("vendor", "vendors"),
    "/products/<int:record_id>/edit": _record_case("product", "products"),
    "/services/<int:record_id>/edit": _record_case("service", "services"),
    "/bundles/<int:record_id>/edit": _record_case("bundle", "bundles"),
    "/price-books/<int:record_id>/edit": _record_case("price_book", "price-books"),
    "/taxes/<int:record_id>/edit": _tax,
    "/custom-fields/<int:record_id>/edit": _custom_field,
    "/users/<int:user_id>": _user,
    "/profile/": _profile,
    "/settings/": _settings,
    "/admin/email/": _email_settings,
    "/admin/email/templates/<any(quote, sales_order, purchase_order, invoice):doc_type>/<any(en, es):language>":
        _email_template,
    "/admin/workflows/<int:rule_id>/edit": _workflow(_full_workflow),
    "/quotes/<int:doc_id>/edit": _document("quotes", "quote"),
    "/sales-orders/<int:doc_id>/edit": _document("sales-orders", "sales_order"),
    "/purchase-orders/<int:doc_id>/edit": _document("purchase-orders", "purchase_order", "group"),
    "/invoices/<int:doc_id>/edit": _document("invoices", "invoice", "group"),
}


def _sparse(api_path: str, page: str, body):
    """A record with only what its form requires (``body(ids)``): blank inputs must stay blank."""
    def make(world: World, app) -> Case:
        record_id = created(world.api.post(f"/{api_path}", json=body(world.ids)))["id"]
        return Case(f"/{page}/{record_id}/edit", lambda: world.read(f"/{api_path}/{record_id}"))
    return make


def _line(ids: dict) -> list[dict]:
    return [{"item_id": ids["gadget"], "quantity": "1"}]


REQUIRED = {"f_choice": "blue"}
#: the forms again, on records with nothing but what is required
SPARSE_CASES = {
    "/accounts/<int:record_id>/edit": _sparse("accounts", "accounts", lambda ids: {"name": "A", "custom": REQUIRED}),
    "/contacts/<int:record_id>/edit": _sparse("contacts", "contacts",
                                              lambda ids: {"last_name": "B", "custom": REQUIRED}),
    "/vendors/<int:record_id>/edit": _sparse("vendors", "vendors", lambda ids: {"name": "V", "custom": REQUIRED}),
    "/products/<int:record_id>/edit": _sparse("products", "products", lambda ids: {
        "name": "P", "unit_price": "1", "custom": REQUIRED}),
    "/services/<int:record_id>/edit": _sparse("services", "services", lambda ids: {
        "name": "S", "unit_price": "1", "custom": REQUIRED}),
    "/bundles/<int:record_id>/edit": _sparse("products", "bundles", lambda ids: {
        "name": "K", "unit_price": "1", "custom": REQUIRED, "components": [{"product_id": ids["gadget"],
                                                                            "quantity": "1"}]}),
    "/price-books/<int:record_id>/edit": _sparse("price-books", "price-books", lambda ids: {"name": "PB"}),
    "/taxes/<int:record_id>/edit": _sparse("taxes", "taxes", lambda ids: {"name": "T", "rate": "0"}),
    "/quotes/<int:doc_id>/edit": _sparse("quotes", "quotes", lambda ids: {
        "account_id": ids["account"], "custom": REQUIRED, "lines": _line(ids)}),
    "/sales-orders/<int:doc_id>/edit": _sparse("sales-orders", "sales-orders", lambda ids: {
        "account_id": ids["account"], "custom": REQUIRED, "lines": _line(ids)}),
    "/purchase-orders/<int:doc_id>/edit": _sparse("purchase-orders", "purchase-orders", lambda ids: {
        "vendor_id": ids["vendor"], "custom": REQUIRED, "lines": _line(ids)}),
    "/invoices/<int:doc_id>/edit": _sparse("invoices", "invoices", lambda ids: {
        "account_id": ids["account"], "custom": REQUIRED, "lines": _line(ids)}),
    "/admin/workflows/<int:rule_id>/edit": _workflow(_sparse_workflow),
}
#: more records of a form whose full record cannot use every kind of input at once
OTHER_CASES = {
    "/admin/workflows/<int:rule_id>/edit": [("other actions", _workflow(_other_workflow)),
                                            ("made through the API", _workflow(_api_workflow))],
}
ALL_CASES = [pytest.param(CASES[rule], id=f"{rule} full") for rule in sorted(CASES)] + \
    [pytest.param(SPARSE_CASES[rule], id=f"{rule} sparse") for rule in sorted(SPARSE_CASES)] + \
    [pytest.param(make, id=f"{rule} {label}") for rule in sorted(OTHER_CASES) for label, make in OTHER_CASES[rule]]


def sign_in(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": TEST_PASSWORD}).status_code == 302
    return client


def test_every_edit_form_of_the_core_has_a_case(app):
    core = {f.rule for f in edit_forms(app) if f.owner is None}
    assert core - set(CASES) - set(NOT_EDIT_FORMS) == set(), "edit forms without a round-trip case"
    assert set(CASES) | set(NOT_EDIT_FORMS) <= core, "cases of forms that are gone"


@pytest.mark.parametrize("make", ALL_CASES)
def test_an_edit_form_saved_unchanged_changes_nothing(app, world, make_user, make):
    case = make(world, app)
    client = sign_in(app, case.user or make_user("admin").username)
    check_round_trip(client, case.page, case.read, case.action)


# --- a required choice never silently takes the first choice ------------------------------------------

def test_a_new_custom_field_is_not_required_unless_ticked(app, make_user):
    from crm.testing import form_entries
    client = sign_in(app, make_user("admin").username)
    url, entries = form_entries(client.get("/custom-fields/new").get_data(as_text=True), "/custom-fields/new")
    assert "required" not in dict(entries) and dict(entries)["active"] == "1"
    assert dict(entries)["entity"] == "" and dict(entries)["type"] == ""  # chosen, not the first ones
    typed = [(k, v) for k, v in entries if k not in ("entity", "key", "label", "type")] + [
        ("entity", "accounts"), ("key", "region"), ("label", "Region"), ("type", "text")]
    from werkzeug.datastructures import MultiDict
    assert client.post(url, data=MultiDict(typed)).status_code == 302
    from crm.models import CustomField
    assert _row(app, CustomField, 1)["required"] is False


REQUIRED_LATER = {"key": "f_late", "label": "Delivery slot", "type": "select", "choices": ["early", "late"],
                  "required": True}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_required_choice_left_empty_is_refused_by_name_on_every_form(app, world, make_user, rule):
    """A required choice added after the record was made: its edit form shows an empty choice
    (a browser would otherwise send the first one) and saving refuses, naming the field."""
    case = CASES[rule](world, app)
    before = case.read()
    if "custom" not in before:
        pytest.skip("a record without custom fields")
    entity = {"/contacts": "contacts", "/vendors": "vendors", "/accounts": "accounts", "/products": "items",
              "/services": "items", "/bundles": "items"}.get(case.page[:case.page.index("/", 1)], "documents")
    created(world.api.post("/custom-fields", json={"entity": entity, **REQUIRED_LATER}))
    client = sign_in(app, make_user("admin").username)
    from crm.testing import form_entries
    page = client.get(case.page).get_data(as_text=True)
    assert dict(form_entries(page, case.page)[1])["custom.f_late"] == ""
    from crm.testing import submit_unchanged
    refused = submit_unchanged(client, case.page)
    assert refused.status_code == 422
    assert "Delivery slot: is required" in refused.get_data(as_text=True)
    assert case.read() == before


# --- a blank new document shows no error before it is submitted ----------------------------------------

@pytest.mark.parametrize("path", ["quotes", "sales-orders", "purchase-orders", "invoices"])
def test_a_blank_new_document_shows_no_error_until_submitted(app, world, make_user, path):
    from werkzeug.datastructures import MultiDict

    from crm.testing import form_entries
    client = sign_in(app, make_user("admin").username)
    page = client.get(f"/{path}/new").get_data(as_text=True)
    assert "is required" not in page and 'class="flash error"' not in page
    url, entries = form_entries(page, f"/{path}/new")
    preview = client.post(f"/{path}/preview", data=MultiDict(entries)).get_data(as_text=True)
    assert 'role="alert"' not in preview and "is required" not in preview  # what the editor shows on opening
    typed = MultiDict([(k, "lots" if k.endswith(".quantity") else v) for k, v in entries])
    preview = client.post(f"/{path}/preview", data=typed).get_data(as_text=True)
    assert 'role="alert"' in preview and "must be a number" in preview and "is required" not in preview
    submitted = client.post(url, data=MultiDict(entries))
    assert submitted.status_code == 422 and "is required" in submitted.get_data(as_text=True)


# --- a workflow rule made through the API: the form edits its rows and keeps the rest ------------------

def test_the_workflow_form_edits_what_it_shows_and_keeps_the_rest(app, world, make_user):
    from werkzeug.datastructures import MultiDict

    from crm.models import WorkflowRule
    from crm.testing import form_entries
    case = _workflow(_api_workflow)(world, app)
    client = sign_in(app, make_user("admin").username)
    page = client.get(case.page).get_data(as_text=True)
    assert 'id="kept-parts"' in page
    url, entries = form_entries(page, case.page)
    typed = {"c0_value": "10", "c1_field": "", "a0_value": "2027-01-31"}  # a value changed, a row cleared
    response = client.post(url, data=MultiDict([(k, typed.get(k, v)) for k, v in entries]))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    rule = _row(app, WorkflowRule, int(case.page.split("/")[3]))
    items = rule["conditions"]["items"]
    assert items[0] == {"field": "balance", "op": ">", "value": "10"}
    assert items[1]["match"] == "any" and len(items[1]["items"]) == 2           # the group, where it was
    assert [i.get("value") for i in items[2:]] == ["S1", "S2", "S3", "S4", None]  # S0 (row 2) removed
    assert rule["actions"][0] == {"type": "update_field", "field": "due_date", "value": "2027-01-31"}
    assert [a.get("text") for a in rule["actions"][1:]] == [f"Comment {i}" for i in range(4)]
    sparse = _workflow(_sparse_workflow)(world, app)
    assert 'id="kept-parts"' not in client.get(sparse.page).get_data(as_text=True)
