"""The global search over 100,000 records: 40,000 products, 5,000 services, 15,000 accounts,
15,000 contacts, 2,000 vendors and 23,000 documents (quotes, sales orders, purchase orders,
invoices), bulk-inserted (the SQLite full-text tables are filled by their triggers as they go).

For each query: the suggestions as the box asks for them (``GET /search/suggest``, over real
HTTP with a signed-in session: five of each kind the admin may read, nine kinds), the results
page (``GET /search/?q=``, twenty of each kind, HTML), and the search alone
(``crm.services.search.search`` in a session, no HTTP). Target: p95 < 30 ms. The request floor
(a query too short to be searched) shows what every request costs besides the search. On SQLite
the search's CPU time is printed too: on a busy machine it is what the search costs by itself.
Then the suggestions again as production serves them: ``crm serve`` (gunicorn) in processes of
its own, asked over a kept-alive ``http.client`` connection.
Also the API's product search (``/api/v1/products?q=``) over the 40,000 products.
"""
from __future__ import annotations

import datetime as dt
import http.client
import random
import re
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import requests
from sqlalchemy import insert, select

from bench import data
from bench.common import Served, bench_app, header, p50_p95, row, settle, timed

PRODUCTS = 40_000
SERVICES = 5_000
ACCOUNTS = 15_000
CONTACTS = 15_000
VENDORS = 2_000
DOCUMENTS = 23_000
TARGET_MS = 30
REPEAT = 40

FIRST = ["Ana", "Luis", "Marta", "Jorge", "Lucía", "Pablo", "Elena", "Diego", "Sofía", "Carlos", "Irene", "Raúl",
         "Nuria", "Iván", "Clara", "Hugo", "Sara", "Óscar", "Laura", "Mario"]
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno", "Álvarez", "Romero",
        "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Serrano", "Molina", "Blanco"]
TRADES = ["Ferretería", "Construcciones", "Suministros", "Talleres", "Distribuciones", "Reformas", "Instalaciones",
          "Electricidad", "Fontanería", "Jardines"]
CITIES = ["Madrid", "Bilbao", "Sevilla", "Valencia", "Zaragoza", "Murcia", "Vigo", "Gijón", "Málaga", "Burgos"]


def load(app) -> dict:
    """The records; returns what the queries look for and the load time."""
    from crm.db import db
    from crm.models import Account, Contact, Document, Vendor
    started = time.perf_counter()
    base = data.base_records(app)
    data.products(app, PRODUCTS, base["tax"], services=SERVICES)
    rng = random.Random(5)
    with app.app_context():
        session = db.new_session(app)
        session.execute(insert(Account), [{
            "name": f"{rng.choice(TRADES)} {rng.choice(LAST)} {rng.choice(CITIES)} {n}", "email": f"info{n}@cliente{n % 977}.example",
            "phone": f"+34 9{n % 10}{rng.randrange(10)} {n:06d}"[:16], "website": "", "tax_id": f"B{n:08d}",
            "billing_address": {}, "shipping_address": {}, "description": "", "active": True, "custom": {}, "version": 1,
        } for n in range(ACCOUNTS)])
        account_ids = list(session.scalars(select(Account.id).order_by(Account.id)))
        session.execute(insert(Contact), [{
            "first_name": rng.choice(FIRST), "last_name": f"{rng.choice(LAST)} {rng.choice(LAST)}",
            "email": f"persona{n}@cliente{n % 977}.example", "phone": f"6{n:08d}", "title": "",
            "account_id": account_ids[n % len(account_ids)], "active": True, "custom": {}, "version": 1,
        } for n in range(CONTACTS)])
        session.execute(insert(Vendor), [{
            "name": f"{rng.choice(TRADES)} proveedor {n}", "email": f"ventas{n}@proveedor.example",
            "phone": f"+34 8{n:07d}", "website": "", "address": {}, "description": "", "active": True, "custom": {},
            "version": 1} for n in range(VENDORS)])
        vendor_ids = list(session.scalars(select(Vendor.id).order_by(Vendor.id)))
        start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        kinds = [("quote", "QUO-", "Created"), ("sales_order", "SO-", "Approved"),
                 ("purchase_order", "PO-", "Approved"), ("invoice", "INV-", "Sent")]
        rows = []
        for n in range(DOCUMENTS):
            doc_type, prefix, status = kinds[n % 4]
            party = {"vendor_id": vendor_ids[n % VENDORS], "account_id": None} if doc_type == "purchase_order" \
                else {"account_id": account_ids[n % ACCOUNTS], "vendor_id": None}
            rows.append({
                "doc_type": doc_type, "number": f"{prefix}{n // 4 + 1:05d}",
                "subject": f"{rng.choice(data.WORDS).title()} {rng.choice(data.NOUNS)} {rng.choice(CITIES)}",
                "customer_reference": f"REF-{n:06d}" if doc_type == "sales_order" else "",
                "status": status, **party, "currency": "EUR", "conversion_rate": Decimal(1), "tax_mode": "individual",
                "group_taxes": [], "shipping_taxes": [], "shipping_amount": Decimal(0), "adjustment": Decimal(0),
                "terms": "", "description": "", "billing_address": {}, "shipping_address": {},
                "subtotal": Decimal(n % 1000), "discount_total": Decimal(0), "taxable": Decimal(n % 1000),
                "tax_total": Decimal(0), "shipping": Decimal(0), "shipping_tax": Decimal(0),
                "grand_total": Decimal(n % 1000), "extra_totals": {}, "received": Decimal(0), "balance": Decimal(0),
                "stock_moved": False, "custom": {}, "version": 1,
                "created_at": start + dt.timedelta(minutes=20 * n), "updated_at": start + dt.timedelta(minutes=20 * n)})
        for first in range(0, len(rows), 5000):
            session.execute(insert(Document), rows[first:first + 5000])
        session.commit()
        session.close()
    return {"seconds": time.perf_counter() - started}


#: (label, query): what people type into the box
QUERIES = [
    ("a product name word (2,700 products match)", "drill"),
    ("two words of a product name", "cordless lamp"),
    ("a SKU", "P-012345"),
    ("part of a SKU", "012345"),
    ("a document number", "SO-01234"),
    ("an invoice number prefix (5,750 match)", "inv-0"),
    ("an account's tax id", "B00004321"),
    ("a customer's e-mail", "info4321@cliente"),
    ("an e-mail domain (all kinds' e-mails: 30,000 match)", "cliente12"),
    ("a phone, digits only", "600001234"),
    ("a person's name", "lucía moreno"),
    ("a common surname (3,000 match)", "garcía"),
    ("a city, also in document subjects (about 4,000 match)", "sevilla"),
    ("nothing matches", "zzqxj"),
]


def _cpu_times(call, repeat: int) -> list[float]:
    """Milliseconds of CPU of this thread per call: on SQLite the whole search runs in it, so
    this is what the search costs whatever else the machine runs."""
    call()
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        call()
        times.append((time.thread_time() - start) * 1000)
    return times


def sign_in(base: str, app, username: str = "searcher") -> requests.Session:
    """A browser-like session of an admin signed in through the login form."""
    from crm.db import db
    from crm.services.users import create_user
    with app.app_context():
        session = db.new_session(app)
        create_user(session, username, "searcher-password", "admin")
        session.commit()
        session.close()
    browser = requests.Session()
    page = browser.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post(f"{base}/login", data={"username": username, "password": "searcher-password",
                                                  "csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    return browser


def run(backend: str) -> None:
    from crm.db import db
    from crm.services import search
    with bench_app(backend, "search") as bench:
        loaded = load(bench.app)
        settle(bench)
        total = PRODUCTS + SERVICES + ACCOUNTS + CONTACTS + VENDORS + DOCUMENTS
        header(f"global search [{backend}]: {total:,} records (loaded in {loaded['seconds']:.0f} s, indexes included)")
        browser = sign_in(bench.url, bench.app)
        floor = p50_p95(timed(lambda: browser.get(f"{bench.url}/search/suggest", params={"q": "zz"}), repeat=REPEAT))
        row("request floor: a query too short to search ('zz')", f"{floor[0]:.1f}/{floor[1]:.1f} ms",
            "p50/p95 of the same request without the search (session, user, JSON)")
        worst = 0.0
        for label, q in QUERIES:
            def suggest(q=q):
                response = browser.get(f"{bench.url}/search/suggest", params={"q": q})
                assert response.status_code == 200, response.text[:300]
                return response.json()
            found = sum(len(g["hits"]) for g in suggest()["groups"])
            p50, p95 = p50_p95(timed(suggest, repeat=REPEAT))
            worst = max(worst, p95)

            def page(q=q):
                assert browser.get(f"{bench.url}/search/", params={"q": q}).status_code == 200
            page_p50, page_p95 = p50_p95(timed(page, repeat=REPEAT // 2))
            with bench.app.test_request_context():
                session = db.new_session(bench.app)
                kinds = search.kinds()

                def alone_call(q=q):
                    search.search(session, q, kinds, search.SUGGEST_LIMIT)
                alone = p50_p95(timed(alone_call, repeat=REPEAT))
                cpu = p50_p95(_cpu_times(alone_call, repeat=REPEAT))
                session.close()
            verdict = "ok" if p95 < TARGET_MS else f"over {TARGET_MS} ms"
            own_cpu = f", CPU {cpu[0]:.1f}/{cpu[1]:.1f} ms" if backend == "sqlite" else ""
            row(f"{label}: {q!r} [{found} shown]", f"{p50:.1f}/{p95:.1f} ms",
                f"suggest p50/p95 ({verdict}); results page {page_p50:.1f}/{page_p95:.1f} ms; "
                f"search alone {alone[0]:.1f}/{alone[1]:.1f} ms{own_cpu}")
        row("worst suggestion p95", f"{worst:.1f} ms", f"target < {TARGET_MS} ms")
        _through_crm_serve(bench)
        for label, q in [("API product search, a word (2,700 of 40,000)", "drill"),
                         ("API product search, a SKU", "P-012345"), ("API product search, no match", "zzqxj")]:
            p50, p95 = p50_p95(timed(lambda q=q: bench.api.get(f"/products?q={q}&per_page=50"), repeat=REPEAT))
            row(label, f"{p50:.1f}/{p95:.1f} ms", "p50/p95 over HTTP")


def _through_crm_serve(bench) -> None:
    """The suggestions as production serves them: ``crm serve`` (gunicorn, one web process of
    four threads) in processes of its own, asked over a kept-alive ``http.client`` connection by
    the signed-in session (the rows above share this process's interpreter between werkzeug's
    development server and ``requests``)."""
    with Served(bench.app.config["DATABASE_URL"], 1, 4, Path(tempfile.mkdtemp(prefix="crm-bench-"))) as port:
        cookies = sign_in(f"http://127.0.0.1:{port}", bench.app, username="searcher-served").cookies
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def suggest(q: str) -> None:
            connection.request("GET", "/search/suggest?" + urlencode({"q": q}), headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            assert answer.status == 200, body[:300]

        floor = p50_p95(timed(lambda: suggest("zz"), repeat=REPEAT))
        row("through crm serve: request floor ('zz')", f"{floor[0]:.1f}/{floor[1]:.1f} ms",
            "p50/p95; gunicorn, 1 web process x 4 threads; http.client, kept alive")
        worst = 0.0
        for _label, q in QUERIES:
            p50, p95 = p50_p95(timed(lambda q=q: suggest(q), repeat=REPEAT))
            worst = max(worst, p95)
            row(f"through crm serve: {q!r}", f"{p50:.1f}/{p95:.1f} ms", "suggest p50/p95")
        row("through crm serve: worst suggestion p95", f"{worst:.1f} ms", f"target < {TARGET_MS} ms")
