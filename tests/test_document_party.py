"""What a document takes from its party -- its addresses, the contacts it may name -- its
customer reference and the unit prices of a price book: one service rule each, through the
API and through the editor's pages, for every document type."""
from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm.models import Account, Contact, PriceBook, PriceBookEntry
from crm.services.doctypes import DOC_TYPES
from tests.test_web_pages import editor_form, html_of, sign_in

pytestmark = pytest.mark.crm_plugins("hello")

ALL_TYPES = list(DOC_TYPES)
ACCOUNT_TYPES = [name for name, kind in DOC_TYPES.items() if kind.party == "account"]
LOPEZ = {"street": "Calle Mayor 1", "city": "Madrid", "state": "", "postal_code": "28013", "country": "ES"}
SUR_BILLING = {"street": "Calle Sol 2", "city": "Sevilla", "state": "Sevilla", "postal_code": "41001",
               "country": "ES"}
SUR_SHIPPING = {"street": "Polígono Sur, nave 7", "city": "Dos Hermanas", "state": "Sevilla",
                "postal_code": "41700", "country": "ES"}
NORTE = {"city": "Bilbao", "country": "ES"}
BLANK = {"street": "", "city": "", "state": "", "postal_code": "", "country": ""}
HAND = {"street": "Muelle 3", "city": "Cádiz", "state": "", "postal_code": "11006", "country": "ES"}


@pytest.fixture
def parties(session, catalog):
    """A second account with both addresses and a contact, a contact of no account, and a price
    book listing the widget (not the gadget)."""
    sur = Account(name="Bricolaje Sur", billing_address=SUR_BILLING, shipping_address=SUR_SHIPPING)
    book = PriceBook(name="Mayoristas", currency="EUR")
    session.add_all([sur, book])
    session.flush()
    eva = Contact(first_name="Eva", last_name="Ruiz", account_id=sur.id)
    loose = Contact(first_name="Lance", last_name="Freeman")
    book.prices = [PriceBookEntry(item_id=catalog.widget, list_price=Decimal("15.50"))]
    session.add_all([eva, loose])
    session.commit()
    return SimpleNamespace(sur=sur.id, eva=eva.id, loose=loose.id, book=book.id, ana=catalog.contact,
                           lopez=catalog.account, norte=catalog.vendor)


def party_of(doc_type: str, parties) -> dict:
    return {"vendor_id": parties.norte} if DOC_TYPES[doc_type].party == "vendor" else {"account_id": parties.lopez}


def expected_addresses(doc_type: str) -> tuple[dict, dict]:
    if doc_type == "purchase_order":
        return NORTE, {}
    return LOPEZ, LOPEZ  # López has no shipping address: its billing one


def body(doc_type: str, parties, catalog, **extra) -> dict:
    return {**party_of(doc_type, parties), "lines": [{"item_id": catalog.widget, "quantity": "1"}], **extra}


def path(doc_type: str) -> str:
    return "/" + DOC_TYPES[doc_type].path


def addresses(document: dict) -> tuple[dict, dict]:
    return ({k: v for k, v in document["billing_address"].items() if v},
            {k: v for k, v in document["shipping_address"].items() if v})


def strip(address: dict) -> dict:
    return {k: v for k, v in address.items() if v}


# --- addresses ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc_type", ALL_TYPES)
@pytest.mark.parametrize("given", ["missing", "blank"])
def test_a_document_saved_without_addresses_gets_its_partys(api, catalog, parties, doc_type, given):
    extra = {} if given == "missing" else {"billing_address": BLANK, "shipping_address": BLANK}
    r = api.post(path(doc_type), json=body(doc_type, parties, catalog, **extra))
    assert r.status_code == 201, r.text
    billing, shipping = expected_addresses(doc_type)
    assert addresses(r.json()) == (strip(billing), strip(shipping))


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_addresses_given_are_kept_and_a_change_sending_them_blank_takes_the_partys(api, catalog, parties,
                                                                                  doc_type):
    created = api.post(path(doc_type), json=body(doc_type, parties, catalog, billing_address=HAND,
                                                 shipping_address=HAND)).json()
    assert addresses(created) == (strip(HAND), strip(HAND))
    kept = api.patch(f"{path(doc_type)}/{created['id']}", json={"subject": "renamed"}).json()
    assert addresses(kept) == (strip(HAND), strip(HAND))
    blanked = api.patch(f"{path(doc_type)}/{created['id']}", json={"billing_address": BLANK})
    assert blanked.status_code == 200, blanked.text
    assert addresses(blanked.json()) == (strip(expected_addresses(doc_type)[0]), strip(HAND))


@pytest.mark.parametrize("doc_type", ACCOUNT_TYPES)
def test_an_account_with_a_shipping_address_gives_both(api, catalog, parties, doc_type):
    r = api.post(path(doc_type), json={"account_id": parties.sur, "lines": []})
    assert addresses(r.json()) == (SUR_BILLING, SUR_SHIPPING)
    moved = api.patch(f"{path(doc_type)}/{r.json()['id']}", json={"account_id": parties.lopez,
                                                                  "billing_address": BLANK,
                                                                  "shipping_address": BLANK})
    assert addresses(moved.json()) == (strip(LOPEZ), strip(LOPEZ))


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_the_editor_saves_the_same_addresses_as_the_api(app, make_user, api, catalog, parties, doc_type):
    client = sign_in(app, make_user, "admin")
    party_field, party_id = next(iter(party_of(doc_type, parties).items()))
    form = editor_form(party_field, party_id, [{"item_id": str(catalog.widget), "quantity": "1"}],
                       subject="From the editor",
                       **{f"{a}.{k}": "" for a in ("billing_address", "shipping_address") for k in BLANK})
    saved = client.post(path(doc_type) + "/new", data=form)
    assert saved.status_code == 302, html_of(saved)
    doc_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    billing, shipping = expected_addresses(doc_type)
    assert addresses(api.get(f"{path(doc_type)}/{doc_id}").json()) == (strip(billing), strip(shipping))
    page = html_of(client.get(saved.headers["Location"]))
    assert (billing.get("street") or billing["city"]) in page


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_the_editor_prefills_the_partys_addresses_and_answers_them_for_another_party(app, make_user, catalog,
                                                                                      parties, doc_type):
    client = sign_in(app, make_user, "admin")
    party_field, party_id = next(iter(party_of(doc_type, parties).items()))
    page = html_of(client.get(f"{path(doc_type)}/new?{party_field}={party_id}"))
    billing, _shipping = expected_addresses(doc_type)
    assert re.search(r'name="billing_address\.city" data-part="city" value="%s"' % billing["city"], page)
    answer = client.get(f"{path(doc_type)}/party?id={party_id}")
    assert answer.status_code == 200 and answer.json["billing_address"] == billing
    assert client.get(f"{path(doc_type)}/party?id=99999").status_code == 404


# --- contacts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc_type", ACCOUNT_TYPES)
def test_a_contact_of_another_account_is_refused(api, catalog, parties, doc_type):
    refused = api.post(path(doc_type), json=body(doc_type, parties, catalog, contact_id=parties.eva))
    assert refused.status_code == 422
    assert "Eva Ruiz" in refused.json()["error"]["fields"]["contact_id"][0]
    assert api.get(path(doc_type)).json()["total"] == 0
    loose = api.post(path(doc_type), json=body(doc_type, parties, catalog, contact_id=parties.loose))
    assert loose.status_code == 422 and "contact_id" in loose.json()["error"]["fields"]
    created = api.post(path(doc_type), json=body(doc_type, parties, catalog, contact_id=parties.ana))
    assert created.status_code == 201, created.text
    url = f"{path(doc_type)}/{created.json()['id']}"
    assert api.patch(url, json={"contact_id": parties.eva}).status_code == 422
    moved = api.patch(url, json={"account_id": parties.sur})  # Ana stays: she is not Sur's
    assert moved.status_code == 422 and "contact_id" in moved.json()["error"]["fields"]
    both = api.patch(url, json={"account_id": parties.sur, "contact_id": parties.eva})
    assert both.status_code == 200 and both.json()["contact_id"] == parties.eva


def test_a_purchase_order_takes_only_a_contact_of_no_account(api, catalog, parties):
    for contact in (parties.ana, parties.eva):
        refused = api.post("/purchase-orders", json=body("purchase_order", parties, catalog, contact_id=contact))
        assert refused.status_code == 422 and "contact_id" in refused.json()["error"]["fields"]
    created = api.post("/purchase-orders", json=body("purchase_order", parties, catalog, contact_id=parties.loose))
    assert created.status_code == 201 and created.json()["contact_id"] == parties.loose


def test_a_purchase_order_from_a_sales_order_drops_the_customers_contact_and_reference(api, catalog, parties):
    order = api.post("/sales-orders", json=body("sales_order", parties, catalog, contact_id=parties.ana,
                                                customer_reference="PO-77")).json()
    po = api.post(f"/sales-orders/{order['id']}/purchase-order", json={"vendor_id": parties.norte}).json()
    assert po["contact_id"] is None and "customer_reference" not in po
    assert addresses(po)[0] == NORTE


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_the_editor_offers_the_partys_contacts_and_the_service_refuses_others(app, make_user, catalog, parties,
                                                                             doc_type):
    client = sign_in(app, make_user, "admin")
    party_field, party_id = next(iter(party_of(doc_type, parties).items()))
    page = html_of(client.get(f"{path(doc_type)}/new?{party_field}={party_id}"))
    contact_select = re.search(r'<select id="f-contact".*?</select>', page, re.S).group(0)
    offered = set(re.findall(r'<option value="(\d+)"', contact_select))
    answered = {c["id"] for c in client.get(f"{path(doc_type)}/party?id={party_id}").json["contacts"]}
    allowed = {parties.loose} if doc_type == "purchase_order" else {parties.ana}
    assert offered == {str(c) for c in allowed} and answered == allowed
    other = parties.eva
    form = editor_form(party_field, party_id, [{"item_id": str(catalog.widget), "quantity": "1"}],
                       contact_id=str(other))
    refused = client.post(path(doc_type) + "/new", data=form)
    assert refused.status_code == 422
    assert re.search(r'id="f-contact"[^>]*>.*?Eva Ruiz', html_of(refused), re.S)  # shown, and refused
    assert "Eva Ruiz" in html_of(client.post(path(doc_type) + "/preview", data=form))
    if doc_type != "purchase_order":
        answered = client.get(f"{path(doc_type)}/party?id={parties.sur}").json["contacts"]
        assert [c["name"] for c in answered] == ["Eva Ruiz"]


# --- the customer's reference -------------------------------------------------------------------------

@pytest.mark.parametrize("doc_type", ACCOUNT_TYPES)
def test_the_customer_reference_is_kept_changed_and_bounded(api, catalog, parties, doc_type):
    created = api.post(path(doc_type), json=body(doc_type, parties, catalog, customer_reference="PO 4471/B"))
    assert created.status_code == 201 and created.json()["customer_reference"] == "PO 4471/B"
    url = f"{path(doc_type)}/{created.json()['id']}"
    assert api.patch(url, json={"customer_reference": "PO 4472"}).json()["customer_reference"] == "PO 4472"
    too_long = api.patch(url, json={"customer_reference": "x" * 101})
    assert too_long.status_code == 422 and "customer_reference" in too_long.json()["error"]["fields"]
    listed = api.get(path(doc_type), params={"q": "4472"}).json()
    assert [d["customer_reference"] for d in listed["items"]] == ["PO 4472"]
    plain = api.post(path(doc_type), json=body(doc_type, parties, catalog)).json()
    assert plain["customer_reference"] == ""


def test_a_purchase_order_has_no_customer_reference(api, catalog, parties):
    r = api.post("/purchase-orders", json=body("purchase_order", parties, catalog, customer_reference="x"))
    assert r.status_code == 422 and "customer_reference" in r.json()["error"]["fields"]


def test_the_customer_reference_follows_conversions_and_invoicing(api, catalog, parties):
    quote = api.post("/quotes", json=body("quote", parties, catalog, customer_reference="PO-9",
                                          contact_id=parties.ana,
                                          lines=[{"item_id": catalog.consulting, "quantity": "2"}])).json()
    api.patch(f"/quotes/{quote['id']}", json={"status": "Accepted"})
    order = api.post(f"/quotes/{quote['id']}/sales-order").json()
    direct = api.post(f"/quotes/{quote['id']}/invoice").json()
    assert order["customer_reference"] == direct["customer_reference"] == "PO-9"
    assert order["contact_id"] == direct["contact_id"] == parties.ana
    assert api.patch(f"/sales-orders/{order['id']}", json={"status": "Approved"}).status_code == 200
    invoice = api.post(f"/sales-orders/{order['id']}/invoices")
    assert invoice.status_code == 201, invoice.text
    assert invoice.json()["customer_reference"] == "PO-9"


def test_the_customer_reference_is_on_the_editor_the_page_and_the_pdf(app, make_user, api, catalog, parties):
    from tests.test_pdf import pdf_text
    client = sign_in(app, make_user, "admin")
    for doc_type in ALL_TYPES:  # the editor of every document with a customer has the field
        page = html_of(client.get(f"{path(doc_type)}/new"))
        assert ('name="customer_reference"' in page) == (doc_type in ACCOUNT_TYPES)
    form = editor_form("account_id", parties.lopez, [{"item_id": str(catalog.widget), "quantity": "1"}],
                       customer_reference="  Pedido 2024/118  ")
    saved = client.post("/sales-orders/new", data=form)
    assert saved.status_code == 302, html_of(saved)
    doc_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    assert api.get(f"/sales-orders/{doc_id}").json()["customer_reference"] == "Pedido 2024/118"
    assert re.search(r'data-field="customer_reference">\s*Pedido 2024/118', html_of(client.get(saved.headers["Location"])))
    edit = html_of(client.get(f"/sales-orders/{doc_id}/edit"))
    assert 'name="customer_reference" value="Pedido 2024/118"' in edit
    assert "Pedido 2024/118" in pdf_text(api.get(f"/sales-orders/{doc_id}/pdf"))


# --- prices of a price book -----------------------------------------------------------------------------

def option_prices(html: str) -> dict[str, str]:
    """The prices the picker's widget and gadget options fill in."""
    found = dict(re.findall(r'data-label="([^"]+)"\s+data-price="([^"]*)"', html))
    return {label: price for label, price in found.items() if label in ("Widget (W-1)", "Gadget (G-1)")}


@pytest.mark.parametrize("doc_type", ALL_TYPES)
def test_picking_an_item_fills_the_price_the_service_would_take(app, make_user, api, catalog, parties, doc_type):
    client = sign_in(app, make_user, "admin")
    url = f"/editor/items?doc_type={doc_type}&q=g"
    plain = option_prices(html_of(client.get(url)))
    booked = option_prices(html_of(client.get(url + f"&price_book_id={parties.book}")))
    ignored = option_prices(html_of(client.get(url + "&price_book_id=99999")))
    saved = api.post(path(doc_type), json={**party_of(doc_type, parties), "price_book_id": parties.book,
                                           "lines": [{"item_id": catalog.widget, "quantity": "1"},
                                                     {"item_id": catalog.gadget, "quantity": "1"}]}).json()
    by_service = [line["unit_price"] for line in saved["lines"]]
    if doc_type == "purchase_order":
        assert plain == booked == {"Widget (W-1)": "12.00", "Gadget (G-1)": "3.00"}
    else:
        assert plain == {"Widget (W-1)": "19.99", "Gadget (G-1)": "7.455"}
        assert booked == {"Widget (W-1)": "15.50", "Gadget (G-1)": "7.455"}  # the gadget is not in the book
    assert ignored == plain
    assert by_service == [booked["Widget (W-1)"], booked["Gadget (G-1)"]]
