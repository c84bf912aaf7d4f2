"""A real Tryton server on 127.0.0.1 for this plugin's tests (needs the ``tryton`` extra).

:func:`prepare` creates a Tryton database (SQLite) with the modules party, product,
sale, purchase and account_invoice activated (``trytond-admin --all``), then sets up,
as Tryton's own test scenarios do, through proteus: a company (EUR), a chart of
accounts, a fiscal year with its periods and invoice sequences, taxes named like
ours ("IVA 21%", "IVA 10%", "IVA 4%"), an account category for products, the party
categories "Customer" and "Supplier", and a "Cash" payment method. The result is
cached (``~/.cache/crm-accounting-sync/``) because activating modules takes a minute.
:class:`TrytonServer` starts ``trytond`` on a free port and waits until it answers.

``python accsync_tryton_server.py setup CONF DB`` is the setup step
(run in a process of its own: proteus' in-process mode keeps global state).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

DB = "crmtest"
ADMIN_PASSWORD = "admin"
SETUP_VERSION = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def write_config(folder: Path, port: int) -> Path:
    conf = folder / "trytond.conf"
    conf.write_text(f"[database]\nuri = sqlite://\npath = {folder}\n\n[web]\nlisten = 127.0.0.1:{port}\n\n"
                    "[session]\nmax_attempt = 1000\n\n[request]\nmax_size = 100000000\n")
    return conf


def cache_dir() -> Path:
    import trytond
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "crm-accounting-sync" / f"tryton-{trytond.__version__}-{SETUP_VERSION}"


def prepare(folder: Path) -> Path:
    """A ready database file ``<folder>/crmtest.sqlite`` (from the cache when there)."""
    folder.mkdir(parents=True, exist_ok=True)
    cached = cache_dir() / f"{DB}.sqlite"
    target = folder / f"{DB}.sqlite"
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / "lock", "w") as lock:       # parallel test workers build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            _build(cached)
    shutil.copyfile(cached, target)
    return target


def _build(cached: Path) -> None:
    work = cache_dir() / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    conf = write_config(work, free_port())
    (work / f"{DB}.sqlite").touch()
    pass_file = work / "pass"
    pass_file.write_text(ADMIN_PASSWORD)
    env = {**os.environ, "TRYTONPASSFILE": str(pass_file)}
    subprocess.run([_bin("trytond-admin"), "-c", str(conf), "-d", DB, "--all", "--email", "admin@example.com",
                    "-u", "party", "product", "sale", "purchase", "account_invoice", "--activate-dependencies"],
                   check=True, env=env, capture_output=True, timeout=1200)
    subprocess.run([sys.executable, __file__, "setup", str(conf), DB],
                   check=True, env=env, capture_output=True, timeout=600)
    shutil.copyfile(work / f"{DB}.sqlite", work / "ready.sqlite")
    os.replace(work / "ready.sqlite", cached)           # never a half-copied cache
    shutil.rmtree(work, ignore_errors=True)


class TrytonServer:
    """``trytond`` serving ``folder``'s database on 127.0.0.1:<free port>."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.conf = write_config(folder, self.port)
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{DB}/rpc/"

    def start(self, timeout: float = 120) -> "TrytonServer":
        log = open(self.folder / "trytond.log", "wb")
        # -d: load the database's pool at start (a login over XML-RPC needs it loaded)
        self.process = subprocess.Popen([_bin("trytond"), "-c", str(self.conf), "-d", DB], stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.port}/rpc/").common.server.version()
                return self
            except (OSError, xmlrpc.client.Error):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("trytond did not start: "
                                       + (self.folder / "trytond.log").read_text()[-2000:]) from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def setup(conf: str, database: str) -> None:
    """The company, accounts, fiscal year, taxes, categories and payment method (proteus, in-process)."""
    import datetime as dt
    from decimal import Decimal

    from proteus import Model, config as pconfig
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, create_tax, get_accounts
    from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
    from trytond.modules.company.tests.tools import create_company, get_company

    cfg = pconfig.set_trytond(database=database, config_file=conf)
    Currency = Model.get("currency.currency")
    if not Currency.find([("code", "=", "EUR")]):
        Currency(name="Euro", code="EUR", symbol="€", rounding=Decimal("0.01")).save()
    Party = Model.get("party.party")
    company_party = Party(name="Demo Trading S.L. (Tryton)")
    company_party.save()
    create_company(party=company_party, currency=Currency.find([("code", "=", "EUR")])[0])
    company = get_company()
    User = Model.get("res.user")
    admin = User(cfg.user)
    admin.companies.append(company) if company not in admin.companies else None
    admin.company = company
    admin.save()
    cfg._context = User.get_preferences(True, {})
    create_chart(company)
    today = dt.date.today()
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company, (today.replace(year=today.year - 1,
                                                                                            month=1, day=1),
                                                                              today.replace(year=today.year + 1,
                                                                                            month=12, day=31))))
    fiscalyear.click("create_period")
    accounts = get_accounts(company)
    for rate in ("21", "10", "4"):
        tax = create_tax(Decimal(rate) / 100, company)
        tax.name = tax.description = f"IVA {rate}%"
        tax.save()
    Category = Model.get("product.category")
    category = Category(name="CRM", accounting=True)
    category.account_expense = accounts["expense"]
    category.account_revenue = accounts["revenue"]
    category.save()
    PartyCategory = Model.get("party.category")
    for name in ("Customer", "Supplier"):
        PartyCategory(name=name).save()
    Journal = Model.get("account.journal")
    PaymentMethod = Model.get("account.invoice.payment.method")
    journal_cash, = Journal.find([("type", "=", "cash")])
    method = PaymentMethod(name="Cash", journal=journal_cash, credit_account=accounts["cash"],
                           debit_account=accounts["cash"])
    method.save()
    Configuration = Model.get("account.configuration")
    configuration = Configuration(1)
    if hasattr(configuration, "tax_rounding"):
        configuration.tax_rounding = "line"
        configuration.save()
    PaymentTerm = Model.get("account.invoice.payment_term")
    term = PaymentTerm(name="30 days")
    line = term.lines.new(type="remainder")
    delta, = line.relativedeltas
    delta.days = 30
    term.save()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        sys.exit(2)
