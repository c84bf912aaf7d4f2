"""A small catalogue written straight to the database, for tests of documents,
stock and plugins (tests of the master-data API create theirs through the API)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm.models import Account, BundleComponent, Contact, Item, Tax, Vendor


@dataclass
class Catalog:
    iva21: int
    iva10: int
    iva4: int
    ship21: int
    account: int
    contact: int
    vendor: int
    widget: int      # product 19.99, IVA 21, cost 12.00
    gadget: int      # product 7.455, IVA 10, cost 3.00
    consulting: int  # service 40.00, IVA 21
    kit: int         # bundle: 2 widgets + 1 gadget, 45.00, IVA 21


def make_catalog(session) -> Catalog:
    iva21 = Tax(name="IVA 21%", rate=Decimal("21"), applies_to="both")
    iva10 = Tax(name="IVA 10%", rate=Decimal("10"))
    iva4 = Tax(name="IVA 4%", rate=Decimal("4"))
    ship21 = Tax(name="IVA 21% envío", rate=Decimal("21"), applies_to="shipping")
    account = Account(name="Ferretería López S.L.", email="compras@lopez.example",
                      billing_address={"street": "Calle Mayor 1", "city": "Madrid", "state": "",
                                       "postal_code": "28013", "country": "ES"})
    vendor = Vendor(name="Suministros Norte", address={"city": "Bilbao", "country": "ES"})
    session.add_all([iva21, iva10, iva4, ship21, account, vendor])
    session.flush()
    contact = Contact(last_name="López", first_name="Ana", account_id=account.id)
    widget = Item(kind="product", name="Widget", sku="W-1", unit_price=Decimal("19.99"),
                  purchase_cost=Decimal("12.00"), category="Hardware", manufacturer="Acme", vendor_id=vendor.id,
                  taxes=[iva21])
    gadget = Item(kind="product", name="Gadget", sku="G-1", unit_price=Decimal("7.455"),
                  purchase_cost=Decimal("3.00"), category="Hardware", manufacturer="Globex", taxes=[iva10])
    consulting = Item(kind="service", name="Consulting hour", unit_price=Decimal("40.00"), taxes=[iva21])
    session.add_all([contact, widget, gadget, consulting])
    session.flush()
    kit = Item(kind="product", name="Starter kit", sku="KIT-1", unit_price=Decimal("45.00"), is_bundle=True,
               taxes=[iva21])
    kit.components = [BundleComponent(component_id=widget.id, quantity=Decimal("2")),
                      BundleComponent(component_id=gadget.id, quantity=Decimal("1"))]
    session.add(kit)
    session.commit()
    return Catalog(iva21.id, iva10.id, iva4.id, ship21.id, account.id, contact.id, vendor.id, widget.id,
                   gadget.id, consulting.id, kit.id)
