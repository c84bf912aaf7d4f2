"""Helpers of the item lookup's tests: a small catalogue whose facet counts the tests count by
hand, and a REST client on Flask's test client."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm.models import BundleComponent, CustomField, Item, StockBalance, Tax, Vendor
from crm.models.stock import DEFAULT_LOCATION_ID


@dataclass
class Shop:
    norte: int
    sur: int
    iva21: int
    ids: dict          # name -> item id


#: name: (kind, sku, category, subcategory, manufacturer, vendor, on_hand, reserved, active, price, custom)
ITEMS = {
    "Alpha drill": ("product", "A-1", "Tools", "Power", "Bosch", "norte", 5, 0, True, "89.90", {"color": "red"}),
    "Beta drill": ("product", "B-1", "Tools", "Power", "Makita", "sur", 0, 0, True, "120.00", {"color": "blue"}),
    "Gamma saw": ("product", "G-1", "Tools", "Hand", "Bosch", "norte", 3, 3, True, "35.50", {"color": "red"}),
    "Delta hammer": ("product", "D-1", "Tools", "Hand", "Stanley", "sur", 10, 0, True, "15.00", {"color": "green"}),
    "Epsilon bulb": ("product", "E-1", "Electrical", "Lighting", "Philips", "norte", 100, 0, True, "2.40", {}),
    "Zeta cable": ("product", "Z-1", "Electrical", "Wiring", "Philips", None, 0, 0, True, "7.75", {}),
    "Old drill": ("product", "O-1", "Tools", "Power", "Bosch", "norte", 2, 0, False, "50.00", {"color": "red"}),
    "50% off_cut \\ gloves": ("product", "W_1", "Safety", "", "Acme", None, 1, 0, True, "4.00", {}),
    "Installation": ("service", None, "Services", "", "", None, 0, 0, True, "60.00", {}),
    "Training": ("service", None, "Services", "", "", None, 0, 0, True, "45.00", {}),
    "Consulting (old)": ("service", None, "Consulting", "", "", None, 0, 0, False, "80.00", {}),
}
#: bundle name: (sku, category, subcategory, manufacturer, price, [(component, quantity)])
BUNDLES = {
    "Drill kit": ("K-1", "Kits", "Power", "Bosch", "150.00", [("Alpha drill", 2), ("Delta hammer", 1)]),
    "Saw kit": ("K-2", "Kits", "Hand", "Bosch", "45.00", [("Gamma saw", 1)]),
}


def make_shop(session) -> Shop:
    tax = Tax(name="IVA 21%", rate=Decimal("21"), applies_to="both")
    norte, sur = Vendor(name="Norte Suministros"), Vendor(name="Sur Herramientas")
    session.add_all([tax, norte, sur,
                     CustomField(entity="items", key="color", label="Colour", type="select",
                                 choices=["red", "blue", "green"]),
                     CustomField(entity="items", key="finish", label="Finish", type="text"),
                     CustomField(entity="items", key="weight", label="Weight", type="number")])
    session.flush()
    vendors = {"norte": norte.id, "sur": sur.id, None: None}
    ids = {}
    for name, (kind, sku, cat, sub, man, vendor, on_hand, reserved, active, price, custom) in ITEMS.items():
        item = Item(kind=kind, name=name, sku=sku, category=cat, subcategory=sub, manufacturer=man,
                    vendor_id=vendors[vendor], on_hand=Decimal(on_hand), reserved=Decimal(reserved), active=active,
                    unit_price=Decimal(price), purchase_cost=Decimal(price) / 2, custom=custom, taxes=[tax],
                    usage_unit="hour" if kind == "service" else "unit", description=f"The {name.lower()}.")
        session.add(item)
        session.flush()
        if kind == "product":  # the core keeps stock per location too: all of it at the default one
            session.add(StockBalance(product_id=item.id, location_id=DEFAULT_LOCATION_ID, on_hand=item.on_hand,
                                     reserved=item.reserved))
        ids[name] = item.id
    for name, (sku, cat, sub, man, price, parts) in BUNDLES.items():
        bundle = Item(kind="product", name=name, sku=sku, category=cat, subcategory=sub, manufacturer=man,
                      unit_price=Decimal(price), is_bundle=True, taxes=[tax], custom={})
        bundle.components = [BundleComponent(component_id=ids[part], quantity=Decimal(q)) for part, q in parts]
        session.add(bundle)
        session.flush()
        ids[name] = bundle.id
    session.commit()
    return Shop(norte.id, sur.id, tax.id, ids)


class Api:
    """The REST API through Flask's test client: ``api.get("/item-lookup/items", kind="product")``."""

    def __init__(self, client, token):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, **params):
        return self.client.get("/api/v1" + path, query_string=params, headers=self.headers)

    def post(self, path, json=None):
        return self.client.post("/api/v1" + path, json=json, headers=self.headers)

    def put(self, path, json=None):
        return self.client.put("/api/v1" + path, json=json, headers=self.headers)

    def patch(self, path, json=None):
        return self.client.patch("/api/v1" + path, json=json, headers=self.headers)

    def delete(self, path):
        return self.client.delete("/api/v1" + path, headers=self.headers)


def names(body) -> list[str]:
    return [item["name"] for item in body["items"]]
