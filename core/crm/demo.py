"""Demo data (``crm demo``): a believable small business to explore the product with.

Suministros Levante S.L. (the tables are in :mod:`crm.demo_data`) sells hardware,
tools, electrical, garden, office and paint supplies to shops and businesses across
Spain. After its master data, six months of its history are made through the same
services the API uses, so stock, reservations, links, status history and audit are
real: purchase orders received in full or in part, quotes in every status and
converted, sales orders approved (reserving stock), shipped in part or in full and
cancelled, invoices from orders, from quotes and direct in every status (Paid and
Partially Paid through a received amount kept by hand), a monthly recurring invoice,
stock adjustments, and a few products at or below their reorder level.

Each piece of history (a quote, an order, a purchase, ...) is a *story*: a generator
whose steps run in date order on a shared :class:`Timeline`, which stamps what each
step wrote (document dates, status history, stock moves, audit) with the step's day,
so the ledger, reports and invoice aging read like six months of business. Each step
acts as the user of the role that would do it (sales, warehouse, accounting, ...).

Seeded randomness makes every run the same business (dates are relative to today);
running it again adds nothing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import random
import unicodedata
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm import money
from crm.context import acting_as
from crm.demo_data import (
    ACCOUNTS,
    BUNDLES,
    COMPANY_ADDRESS,
    COMPANY_NAME,
    MAINTENANCE_CONTRACT,
    PRODUCTS,
    SERVICES,
    SUBJECTS,
    TAXES,
    TERMS,
    VENDORS,
)
from crm.models import (
    ROLES,
    Account,
    AuditEntry,
    Document,
    Item,
    RecurringRun,
    Setting,
    StatusChange,
    StockMove,
    Tax,
    User,
)
from crm.services import (
    accounts,
    contacts,
    documents,
    hooks,
    items,
    orders,
    price_books,
    recurring,
    stock,
    taxes,
    vendors as vendor_service,
)
from crm.services.settings import set_setting
from crm.services.users import create_user

DEMO_PASSWORD_SUFFIX = "1234"
SEED = 2027
HISTORY_DAYS = 180
PAYMENT_DAYS = 30
USERS = {"admin": ("Laura Vidal", "en"), "sales": ("Carlos Ibáñez", "en"), "purchasing": ("Marta Roig", "en"),
         "warehouse": ("Andrés Soler", "es"), "accounting": ("Isabel Navarro", "en")}
COUNT_LABELS = {"quote": "quotes", "sales_order": "sales orders", "purchase_order": "purchase orders",
                "invoice": "invoices"}
PURCHASE_TERMS = "Entrega en nuestro almacén de Paterna de lunes a viernes de 8:00 a 15:00. Pago a 60 días."

# --- the stories: (days ago, plan, ...) ---------------------------------------------------------
#: quotes: (days ago, final status, what follows an accepted quote: (document, its plan) or None)
QUOTES = [
    (2, "Created", None), (4, "Created", None), (9, "Created", None),
    (7, "Delivered", None), (12, "Delivered", None), (18, "Delivered", None),
    (15, "Reviewed", None), (21, "Reviewed", None),
    (150, "Rejected", None), (95, "Rejected", None), (40, "Rejected", None),
    (10, "Accepted", None),
    (170, "Accepted", ("sales_order", "paid")), (160, "Accepted", ("sales_order", "paid")),
    (120, "Accepted", ("sales_order", "overdue")), (85, "Accepted", ("sales_order", "partially_paid")),
    (60, "Accepted", ("sales_order", "credit")), (30, "Accepted", ("sales_order", "partial_shipment")),
    (22, "Accepted", ("sales_order", "approved")), (14, "Accepted", ("sales_order", "approved_po")),
    (130, "Accepted", ("invoice", "paid")), (35, "Accepted", ("invoice", "sent")),
]
#: sales orders made without a quote: (days ago, plan)
SALES_ORDERS = [
    (175, "paid"), (165, "paid"), (140, "paid"), (125, "partially_paid"), (110, "overdue"), (100, "paid"),
    (80, "overdue"), (70, "paid"), (55, "partially_paid"), (50, "cancelled_draft"), (45, "overdue"),
    (38, "invoice_approved"), (25, "sent"), (20, "cancelled"), (16, "partial_shipment"), (8, "approved"),
    (5, "approved"), (3, "created"), (1, "created"),
]
#: what happens to the invoice of a shipped sales order, by the order's plan
INVOICE_PLAN_OF_ORDER = {"paid": "paid", "partially_paid": "partially_paid", "overdue": "sent", "sent": "sent",
                         "credit": "credit", "invoice_approved": "approved"}
#: invoices without an order (counter sales): (days ago, plan)
DIRECT_INVOICES = [
    (158, "paid"), (135, "sent"), (90, "paid"), (65, "cancelled"), (42, "credit"), (28, "sent"), (11, "approved"),
    (3, "draft"),
]
#: replenishment purchase orders: (days ago, plan, vendor key, skus always on it)
PURCHASES = [
    (140, "received", "ferrotec", ()), (95, "received", "conexia", ()), (50, "received", "ofimax", ()),
    (40, "partial", "luxtal", ()), (20, "partial", "pintalux", ()), (35, "cancelled", "voltrix", ()),
    (12, "delivered", "protecta", ()), (10, "approved", "jardinova", ("RI-005",)), (2, "created", "viveros", ()),
]
#: stock adjustments: (days ago, sku, reason, signed quantity or the difference a count found, note)
ADJUSTMENTS = [
    (100, "PI-001", "damaged", -2, "Botes abollados en la descarga"),
    (75, "HM-009", "lost", -1, "No localizado en el inventario de estantería"),
    (60, "HM-009", "found", 1, "Apareció en la zona de devoluciones"),
    (30, "IL-001", "count_correction", -3, "Inventario trimestral"),
    (30, "TO-002", "count_correction", 5, "Inventario trimestral"),
    (20, "PL-002", "other", -4, "Plantas secas retiradas de la venta"),
]
#: the monthly maintenance contract invoiced by a recurring schedule: (days ago, account)
RECURRING_CONTRACT = (152, "Hotel Playa Dorada S.A.")


def load_demo(session: Session) -> dict[str, int]:
    """Load the demo data once; running it again adds nothing. Returns what was created."""
    counts = {"users": _create_users(session)}
    if session.scalar(select(Account.id).where(Account.name == ACCOUNTS[0][0])) is not None:
        return counts
    users = {user.username: user for user in session.scalars(select(User).where(User.username.in_(ROLES)))}
    with acting_as(users["admin"]):
        counts.update(DemoBusiness(session, users, dt.date.today()).load())
    return counts


def _create_users(session: Session) -> int:
    """One user per role, named after it, with password ``<role>1234``."""
    created = 0
    for role in ROLES:
        if session.scalar(select(User.id).where(User.username == role)) is None:
            full_name, language = USERS.get(role, (role.title(), "en"))
            create_user(session, role, role + DEMO_PASSWORD_SUFFIX, role, full_name=full_name, language=language,
                        email=f"{role}@suministroslevante.example")
            created += 1
    return created


class Timeline:
    """Runs stories in date order and stamps what each step wrote with the step's moment.

    A story is a generator: each ``next()`` runs one step and yields the day of the
    next one. After a step, the documents it created get their ``created_at``, the
    documents it :meth:`touch`-ed their ``updated_at``, and the new status changes,
    stock moves and audit entries their time."""

    def __init__(self, session: Session, rng: random.Random):
        self.session, self.rng = session, rng
        self.now: dt.datetime | None = None
        self._touched: set[int] = set()
        self._last = {model: self._max_id(model) for model in (Document, StatusChange, StockMove, AuditEntry)}

    def at(self, day: dt.date) -> None:
        """Steps from now on happen on ``day``, in office hours."""
        self.now = dt.datetime.combine(day, dt.time(self.rng.randint(8, 18), self.rng.randint(0, 59)),
                                       tzinfo=dt.timezone.utc)

    def touch(self, document: Document) -> None:
        self._touched.add(document.id)

    def run(self, stories: list[tuple[dt.date, Iterator[dt.date]]]) -> None:
        queue = [(day, order, story) for order, (day, story) in enumerate(stories)]
        heapq.heapify(queue)
        while queue:
            day, order, story = heapq.heappop(queue)
            self.at(day)
            next_day = next(story, None)
            self.stamp()
            if next_day is not None:
                heapq.heappush(queue, (max(next_day, day), order, story))

    def stamp(self) -> None:
        """Write the step's time into the database only: the objects in the session keep theirs
        (nothing here reads them back, and scanning the whole session on every step is slow)."""
        self.session.flush()
        statements = [update(Document).where(Document.id > self._last[Document])
                      .values(created_at=self.now, updated_at=self.now)]
        if self._touched:
            statements.append(update(Document).where(Document.id.in_(self._touched)).values(updated_at=self.now))
        statements += [update(model).where(model.id > self._last[model]).values(at=self.now)
                       for model in (StatusChange, StockMove, AuditEntry)]
        for statement in statements:
            self.session.execute(statement.execution_options(synchronize_session=False))
        self._last = {model: self._max_id(model) for model in self._last}
        self._touched.clear()

    def _max_id(self, model) -> int:
        return self.session.scalar(select(func.max(model.id))) or 0


class DemoBusiness:
    """Builds the demo company's master data and six months of its history."""

    def __init__(self, session: Session, users: dict[str, User], today: dt.date):
        self.session, self.users, self.today = session, users, today
        self.rng = random.Random(SEED)
        self.timeline = Timeline(session, self.rng)
        self.counts: Counter[str] = Counter()
        self.taxes: dict[str, Tax] = {}
        self.vendors: dict = {}
        self.products: dict[str, Item] = {}
        self.opening: dict[str, Decimal] = {}
        self.bundles: list[Item] = []
        self.services: dict[str, Item] = {}
        self.accounts: list[Account] = []
        self.contacts: dict[int, list] = {}
        self.installers_book = None

    def load(self) -> dict[str, int]:
        self.timeline.at(self.day(HISTORY_DAYS + 10))
        self._settings()
        self._taxes()
        self._vendors()
        self._catalog()
        self._accounts()
        self._price_book()
        self.timeline.stamp()
        self.timeline.run(self._stories())
        return dict(self.counts)

    # --- dates and people ---------------------------------------------------------------------------

    def day(self, days_ago: int) -> dt.date:
        return self.today - dt.timedelta(days=days_ago)

    def later(self, day: dt.date, least: int, most: int) -> dt.date:
        """A day some days after ``day``, never after today."""
        return min(day + dt.timedelta(days=self.rng.randint(least, most)), self.today)

    @contextlib.contextmanager
    def acting(self, role: str, *changed: Document):
        """Act as the user of ``role``; the documents ``changed`` get the step's time as updated_at."""
        with acting_as(self.users[role]):
            yield
        for document in changed:
            self.timeline.touch(document)

    def _created(self) -> dict:
        return {"created_at": self.timeline.now, "updated_at": self.timeline.now}

    # --- master data --------------------------------------------------------------------------------

    def _settings(self) -> None:
        for key, value in (("company_name", COMPANY_NAME), ("company_address", COMPANY_ADDRESS)):
            if self.session.get(Setting, ("core", key)) is None:  # keep what the admin set
                set_setting(self.session, key, value)

    def _taxes(self) -> None:
        for key, (name, rate, applies_to) in TAXES.items():
            existing = self.session.scalar(select(Tax).where(Tax.name == name))
            self.taxes[key] = existing or taxes.create_tax(self.session, {
                "name": name, "rate": Decimal(rate), "applies_to": applies_to, "active": True, **self._created()})
            self.counts["taxes"] += existing is None

    def _vendors(self) -> None:
        for key, (name, city, province, postal_code, street, phone, web) in VENDORS.items():
            self.vendors[key] = vendor_service.create_vendor(self.session, {
                "name": name, "email": f"pedidos@{web}.example", "phone": phone,
                "website": f"https://www.{web}.example",
                "address": _address(street, postal_code, city, province), **self._created()})
        self.counts["vendors"] = len(self.vendors)

    def _catalog(self) -> None:
        for (sku, name, category, subcategory, manufacturer, vendor, price, cost, unit, tax, reorder,
             opening) in PRODUCTS:
            self.products[sku] = items.create_item(self.session, "product", {
                "name": name, "sku": sku, "unit_price": Decimal(price), "purchase_cost": Decimal(cost),
                "usage_unit": unit, "category": category, "subcategory": subcategory, "manufacturer": manufacturer,
                "vendor_id": self.vendors[vendor].id, "reorder_level": Decimal(reorder),
                "tax_ids": [self.taxes[tax].id], **self._created()})
            self.opening[sku] = Decimal(reorder * 5 if opening is None else opening)
        for sku, name, category, price, parts in BUNDLES:
            components = [(self.products[part], Decimal(quantity)) for part, quantity in parts]
            cost = money.total(money.multiply(product.purchase_cost, quantity) for product, quantity in components)
            self.bundles.append(items.create_item(self.session, "product", {
                "name": name, "sku": sku, "unit_price": Decimal(price), "purchase_cost": cost, "usage_unit": "kit",
                "category": category, "subcategory": "Kits", "manufacturer": "Suministros Levante",
                "tax_ids": [self.taxes["iva21"].id],
                "components": [{"component_id": product.id, "quantity": quantity} for product, quantity in components],
                **self._created()}))
        for name, category, price, cost, unit in SERVICES:
            self.services[name] = items.create_item(self.session, "service", {
                "name": name, "unit_price": Decimal(price), "purchase_cost": Decimal(cost), "usage_unit": unit,
                "category": category, "tax_ids": [self.taxes["iva21"].id], **self._created()})
        self.counts.update(products=len(self.products) + len(self.bundles), bundles=len(self.bundles),
                           services=len(self.services))

    def _accounts(self) -> None:
        for name, street, postal_code, city, province, phone, web, people in ACCOUNTS:
            address = _address(street, postal_code, city, province)
            account = accounts.create_account(self.session, {
                "name": name, "email": f"info@{web}.example", "phone": phone, "website": f"https://www.{web}.example",
                "tax_id": f"{'A' if name.endswith('S.A.') else 'B'}{self.rng.randrange(10**7, 10**8)}",
                "billing_address": address, "shipping_address": dict(address), **self._created()})
            self.accounts.append(account)
            self.contacts[account.id] = [contacts.create_contact(self.session, {
                "first_name": first, "last_name": last, "title": title, "account_id": account.id,
                "email": f"{_slug(first)}.{_slug(last.split()[0])}@{web}.example",
                "phone": f"+34 6{self.rng.randrange(10, 99)} {self.rng.randrange(100, 999)} "
                         f"{self.rng.randrange(100, 999)}", **self._created()}) for first, last, title in people]
        self.counts.update(accounts=len(self.accounts), contacts=sum(len(c) for c in self.contacts.values()))

    def _price_book(self) -> None:
        """Installers pay 8 % less for electrical material."""
        electrical = [p for p in self.products.values() if p.category == "Electricidad"]
        self.installers_book = price_books.create_price_book(self.session, {
            "name": "Tarifa instaladores", "currency": "EUR", "active": True,
            "description": "8 % de descuento en material eléctrico para instaladores",
            "prices": [{"item_id": p.id, "list_price": money.round_money(
                money.subtract(p.unit_price, money.percent_of(p.unit_price, Decimal("8"))), "EUR")}
                for p in electrical], **self._created()})
        self.counts["price books"] = 1

    # --- the stories ------------------------------------------------------------------------------

    def _stories(self) -> list[tuple[dt.date, Iterator[dt.date]]]:
        opening = self.day(HISTORY_DAYS + 5)
        stories = [(opening, self._purchase_story(opening, "received", key, opening=True)) for key in self.vendors]
        stories += [(self.day(ago), self._quote_story(self.day(ago), status, then)) for ago, status, then in QUOTES]
        stories += [(self.day(ago), self._sales_order_story(self.day(ago), plan)) for ago, plan in SALES_ORDERS]
        stories += [(self.day(ago), self._direct_invoice_story(self.day(ago), plan)) for ago, plan in DIRECT_INVOICES]
        stories += [(self.day(ago), self._purchase_story(self.day(ago), plan, key, always=skus))
                    for ago, plan, key, skus in PURCHASES]
        stories += [(self.day(ago), self._adjustment_story(sku, reason, quantity, note))
                    for ago, sku, reason, quantity, note in ADJUSTMENTS]
        stories.append((self.day(RECURRING_CONTRACT[0]), self._recurring_story(self.day(RECURRING_CONTRACT[0]))))
        return stories

    def _quote_story(self, day: dt.date, status: str, then) -> Iterator[dt.date]:
        account = self._account()
        with self.acting("sales"):
            quote = self._create("quote", self._sales_data(account, self._lines(),
                                                           valid_until=day + dt.timedelta(days=30)))
        steps = {"Created": (), "Delivered": ("Delivered",), "Reviewed": ("Delivered", "Reviewed"),
                 "Rejected": ("Delivered", "Reviewed", "Rejected"), "Accepted": ("Delivered", "Accepted")}[status]
        for step in steps:
            day = self.later(day, 1, 4)
            yield day
            with self.acting("sales", quote):
                documents.change_status(self.session, quote, step)
        if then is None:
            return
        target, plan = then
        day = self.later(day, 0, 2)
        yield day
        with self.acting("sales", quote):
            converted = documents.convert_quote(self.session, quote, target)
        self._count(converted)
        if target == "invoice":
            yield from self._invoice_story(converted, day, plan)
        else:
            yield from self._sales_order_story(day, plan, converted)

    def _sales_order_story(self, day: dt.date, plan: str, order: Document | None = None) -> Iterator[dt.date]:
        if order is None:
            account = self._account()
            with self.acting("sales"):
                order = self._create("sales_order", self._sales_data(
                    account, self._lines(least=3 if plan == "partial_shipment" else 1),
                    due_date=day + dt.timedelta(days=PAYMENT_DAYS)))
        if plan == "created":
            return
        day = self.later(day, 1, 2)
        yield day
        with self.acting("sales", order):
            documents.change_status(self.session, order, "Cancelled" if plan == "cancelled_draft" else "Approved")
        if plan in ("approved", "cancelled_draft"):
            return
        if plan == "approved_po":
            yield from self._purchase_for_order(day, order)
            return
        day = self.later(day, 2, 5)
        yield day
        if plan == "cancelled":
            with self.acting("sales", order):
                documents.change_status(self.session, order, "Cancelled", note="el cliente anula el pedido")
            return
        with self.acting("warehouse", order):
            orders.ship_sales_order(self.session, order, self._part_of(order) if plan == "partial_shipment" else None)
        with self.acting("accounting", order):
            requested = ([{"line_id": line.id, "quantity": line.qty_shipped} for line in orders.item_lines(order)
                          if line.qty_shipped] if plan == "partial_shipment" else None)
            invoice = orders.invoice_sales_order(self.session, order, requested)
        self._count(invoice)
        yield from self._invoice_story(invoice, day, INVOICE_PLAN_OF_ORDER.get(plan, "approved"))

    def _part_of(self, order: Document) -> list[dict] | None:
        """About half of every line but the last (which stays reserved); None (all) for a one-line order."""
        lines = orders.item_lines(order)[:-1]
        return [{"line_id": line.id, "quantity": max(Decimal(1), line.quantity // 2)} for line in lines] or None

    def _purchase_for_order(self, day: dt.date, order: Document) -> Iterator[dt.date]:
        """Order the sales order's goods from the vendor of its first product (kept in Created)."""
        first = next(line.item for line in orders.item_lines(order) if line.item.kind == "product")
        vendor_id = first.vendor_id or self.vendors["ferrotec"].id
        day = self.later(day, 0, 1)
        yield day
        with self.acting("purchasing", order):
            self._count(documents.order_from_vendor(self.session, order, vendor_id))

    def _direct_invoice_story(self, day: dt.date, plan: str) -> Iterator[dt.date]:
        account = self._account()
        with self.acting("accounting"):
            invoice = self._create("invoice", self._sales_data(account, self._lines()))
        yield from self._invoice_story(invoice, day, plan)

    def _invoice_story(self, invoice: Document, day: dt.date, plan: str) -> Iterator[dt.date]:
        """Date the invoice, then take it to the plan's status: draft (Created), approved, sent,
        paid, partially_paid, credit (Credit Invoice) or cancelled (after approval)."""
        with self.acting("accounting", invoice):
            documents.update_document(self.session, invoice, {
                "invoice_date": day, "due_date": day + dt.timedelta(days=PAYMENT_DAYS)})
        if plan == "draft":
            return
        day = self.later(day, 0, 1)
        yield day
        with self.acting("accounting", invoice):
            documents.change_status(self.session, invoice, "Approved" if plan in ("approved", "cancelled") else "Sent")
        if plan in ("approved", "sent"):
            return
        if plan in ("cancelled", "credit"):
            day = self.later(day, 5, 15)
            yield day
            with self.acting("accounting", invoice):
                documents.change_status(self.session, invoice, "Cancelled" if plan == "cancelled" else "Credit Invoice")
            return
        day = self.later(day, 10, 40)
        yield day
        self._receive_payment(invoice, full=plan == "paid")

    def _receive_payment(self, invoice: Document, *, full: bool) -> None:
        """Record what the customer paid by hand (Paid or Partially Paid); skipped when a plugin
        keeps payments (the received amount is then its business)."""
        if hooks.call_first("crm_invoice_received", session=self.session, invoice=invoice) is not None:
            return
        share = Decimal(100) if full else Decimal(self.rng.choice((30, 40, 50)))
        amount = money.round_money(money.percent_of(invoice.grand_total, share), invoice.currency)
        with self.acting("accounting", invoice):
            documents.update_document(self.session, invoice, {"received": amount})

    def _purchase_story(self, day: dt.date, plan: str, vendor_key: str, *, opening: bool = False,
                        always: tuple[str, ...] = ()) -> Iterator[dt.date]:
        vendor = self.vendors[vendor_key]
        lines = self._purchase_lines(vendor, opening=opening, always=always)
        with self.acting("purchasing"):
            order = self._create("purchase_order", {
                "vendor_id": vendor.id, "lines": lines, "terms": PURCHASE_TERMS,
                "subject": "Stock inicial" if opening else f"Reposición {vendor.name}",
                "due_date": day + dt.timedelta(days=10)})
        if plan == "created":
            return
        day = self.later(day, 0, 1)
        yield day
        with self.acting("purchasing", order):
            documents.change_status(self.session, order, "Cancelled" if plan == "cancelled" else "Approved")
        if plan in ("approved", "cancelled"):
            return
        day = self.later(day, 2, 6)
        yield day
        if plan == "delivered":  # the vendor has shipped it; not received yet
            with self.acting("purchasing", order):
                documents.change_status(self.session, order, "Delivered")
            return
        half = [{"line_id": line.id, "quantity": line.quantity // 2} for line in orders.item_lines(order)]
        with self.acting("warehouse", order):
            orders.receive_purchase_order(self.session, order, half if plan == "partial" else None)

    def _purchase_lines(self, vendor, *, opening: bool, always: tuple[str, ...]) -> list[dict]:
        """Opening stock: every product of the vendor. Replenishment: a few of them (never the
        products kept low on purpose) at twice their reorder level, plus ``always``."""
        own = [(sku, p) for sku, p in self.products.items() if p.vendor_id == vendor.id]
        if opening:
            return [{"item_id": p.id, "quantity": self.opening[sku]} for sku, p in own if self.opening[sku]]
        restockable = [(sku, p) for sku, p in own if not self._kept_low(sku) and sku not in always]
        chosen = self.rng.sample(restockable, min(len(restockable), self.rng.randint(2, 4)))
        chosen += [(sku, self.products[sku]) for sku in always]
        return [{"item_id": p.id, "quantity": max(p.reorder_level * 2, Decimal(4))} for _sku, p in chosen]

    def _adjustment_story(self, sku: str, reason: str, quantity: int, note: str) -> Iterator[dt.date]:
        product = self.products[sku]
        self.session.expire(product, ["on_hand", "reserved"])  # the ledger moved it with UPDATE statements
        with self.acting("warehouse"):
            if reason == "count_correction":
                stock.adjust(self.session, product.id, counted_quantity=product.on_hand + quantity, reason=reason,
                             note=note)
            else:
                stock.adjust(self.session, product.id, quantity=Decimal(quantity), reason=reason, note=note)
        self.counts["stock adjustments"] += 1
        yield from ()

    def _recurring_story(self, day: dt.date) -> Iterator[dt.date]:
        """A hotel's monthly maintenance contract: the recurring job invoices each month
        (AutoCreated); the hotel pays them, except the last two (one sent, one new)."""
        account = next(a for a in self.accounts if a.name == RECURRING_CONTRACT[1])
        start = day + dt.timedelta(days=3)
        with self.acting("sales"):
            order = self._create("sales_order", self._sales_data(
                account, [{"item_id": self.services[MAINTENANCE_CONTRACT].id, "quantity": Decimal(1)}],
                subject="Mantenimiento mensual de instalaciones",
                recurring={"frequency": "monthly", "start_date": start, "payment_terms_days": PAYMENT_DAYS,
                           "invoice_status": "AutoCreated"}))
        day = self.later(day, 1, 2)
        yield day
        with self.acting("sales", order):
            documents.change_status(self.session, order, "Approved")
        schedule = documents.recurring_schedule(self.session, order)
        periods = list(recurring.period_dates(schedule, self.today))
        for index, period in enumerate(periods):
            yield period
            with self.acting("accounting"):
                recurring.run_due(self.session, period)
            invoice_id = self.session.scalar(select(RecurringRun.invoice_id).where(
                RecurringRun.sales_order_id == order.id, RecurringRun.period_date == period))
            invoice = documents.get_document(self.session, "invoice", invoice_id)
            self._count(invoice)
            left = len(periods) - index
            if left == 2:
                with self.acting("accounting", invoice):
                    documents.change_status(self.session, invoice, "Sent")
            elif left > 2:
                yield self.later(period, 10, 20)
                self._receive_payment(invoice, full=True)

    # --- building blocks ----------------------------------------------------------------------------

    def _create(self, doc_type: str, data: dict) -> Document:
        document = documents.create_document(self.session, doc_type, data)
        self._count(document)
        return document

    def _count(self, document: Document) -> None:
        self.counts[COUNT_LABELS[document.doc_type]] += 1

    def _account(self):
        return self.rng.choice(self.accounts)

    def _sales_data(self, account: Account, lines: list[dict], **extra) -> dict:
        """A quote, order or invoice body for ``account``: its contact, a subject, our terms,
        sometimes shipping or a document discount; installers get their price book."""
        data = {"account_id": account.id, "contact_id": self.rng.choice(self.contacts[account.id]).id,
                "subject": self.rng.choice(SUBJECTS), "lines": lines, "terms": TERMS}
        if self.rng.random() < 0.3:
            data.update(shipping_amount=Decimal("12.50"), shipping_tax_ids=[self.taxes["iva21"].id])
        if self.rng.random() < 0.15:
            data["discount_percent"] = Decimal(self.rng.choice(("3", "5")))
        if account.name.startswith(("Instalaciones", "Electricidad")):
            data["price_book_id"] = self.installers_book.id
        data.update(extra)
        return data

    def _lines(self, *, least: int = 1) -> list[dict]:
        """A few products in stock (never those kept low), sometimes a bundle or a service."""
        sellable = [p for sku, p in self.products.items() if not self._kept_low(sku)]
        lines = []
        for product in self.rng.sample(sellable, self.rng.randint(max(least, 2), 5)):
            quantity = self._quantity(product)
            if quantity:
                lines.append({"item_id": product.id, "quantity": quantity, **self._line_discount()})
        if self.rng.random() < 0.2:
            bundle = self.rng.choice(self.bundles)
            if self._available(bundle) >= 6:
                lines.append({"item_id": bundle.id, "quantity": Decimal(self.rng.randint(1, 2))})
        if self.rng.random() < 0.25:
            service = self.rng.choice([s for name, s in self.services.items() if name != MAINTENANCE_CONTRACT])
            lines.append({"item_id": service.id, "quantity": Decimal(self.rng.randint(1, 4))})
        return lines

    def _line_discount(self) -> dict:
        return {"discount_percent": Decimal(self.rng.choice(("5", "10", "15")))} if self.rng.random() < 0.25 else {}

    def _quantity(self, product: Item) -> Decimal | None:
        """Up to half the reorder level, never more than a third of what is available."""
        wanted = self.rng.randint(1, max(1, int(product.reorder_level) // 2))
        quantity = min(Decimal(wanted), self._available(product) // 3)
        return quantity if quantity >= 1 else None

    def _available(self, product: Item) -> Decimal:
        """Available now, read from the database (the ledger updates items with UPDATE statements)."""
        if product.is_bundle:
            return min(self._available(c.component) // c.quantity for c in product.components)
        return self.session.scalar(select(Item.on_hand - Item.reserved).where(Item.id == product.id))

    def _kept_low(self, sku: str) -> bool:
        """Products that start at or below their reorder level and are never restocked or sold here."""
        return self.opening[sku] <= self.products[sku].reorder_level


def _address(street: str, postal_code: str, city: str, province: str) -> dict:
    return {"street": street, "postal_code": postal_code, "city": city, "state": province, "country": "España"}


def _slug(name: str) -> str:
    """``"María José"`` -> ``"mariajose"`` for email addresses."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())
