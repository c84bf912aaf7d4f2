"""Helpers of the accounting sync's tests."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.db import db
from crm.testing import in_session

#: a test that syncs payments too: it needs the payments plugin (skipped when CRM_PLUGINS leaves it out)
WITH_PAYMENTS = pytest.mark.crm_plugins("accounting_sync", "payments")


def qbo_settings(fake) -> dict:
    """The settings of a connection to the QuickBooks fake ``fake``."""
    return {"realm_id": fake.realm, "client_id": fake.client_id, "environment": "production", "discovery_url": fake.discovery_url,
            "api_base_url": fake.api_url, "minorversion": 75, "timeout_seconds": 2,
            "income_account_id": fake.account_id("Sales"), "expense_account_id": fake.account_id("Cost of Goods Sold"),
            "asset_account_id": fake.account_id("Inventory Asset"),
            "value_maps": {"tax_codes": qbo_tax_codes(fake)}}


def qbo_tax_codes(fake) -> dict:
    """Our taxes (the test catalogue's) -> the tax codes of the fake's company (Spanish: IVA)."""
    if fake.company().country == "US":
        return {"IVA 21%": fake.tax_code_id("California"), "IVA 21% envío": fake.tax_code_id("California")}
    return {"IVA 21%": fake.tax_code_id("IVA 21%"), "IVA 10%": fake.tax_code_id("IVA 10%"),
            "IVA 4%": fake.tax_code_id("IVA 4%"), "IVA 21% envío": fake.tax_code_id("IVA 21%"),
            "(no tax)": fake.tax_code_id("Exento")}


def connect(app, name: str, connector: str, settings: dict | None = None, secrets: dict | None = None):
    from crm_accounting_sync.connections import save_connection
    with app.app_context():
        s = db.new_session(app)
        base = {"retry": {"base_seconds": 0, "max_attempts": 5}}
        save_connection(s, name, {"connector": connector, "settings": {**base, **(settings or {})},
                                  "secrets": secrets or {}})
        s.commit()
        s.close()


def configure(app, name: str, **settings):
    from crm_accounting_sync.connections import save_connection
    with app.app_context():
        s = db.new_session(app)
        save_connection(s, name, {"settings": settings})
        s.commit()
        s.close()


class RunResult:
    def __init__(self, run, records):
        self.id, self.status, self.error = run.id, run.status, run.error
        self.counts, self.http_calls, self.progress = run.counts, run.http_calls, run.progress
        self.records = records

    def count(self, entity, side, action):
        return ((self.counts.get(entity) or {}).get(side) or {}).get(action, 0)

    def total(self, action=None):
        return sum(v for e in self.counts.values() for s in e.values() for a, v in s.items()
                   if action is None or a == action)

    def actions(self, entity=None):
        return [(r["entity"], r["side"], r["action"], r["local_id"], r["remote_id"]) for r in self.records
                if entity is None or r["entity"] == entity]

    def __repr__(self):
        return f"<Run {self.id} {self.status} {self.error!r} {self.counts} {self.records}>"


def sync(app, name: str, entities=None, connector=None) -> RunResult:
    from crm_accounting_sync.engine import execute_run
    from crm_accounting_sync.models import RunRecord
    from crm_accounting_sync.runner import create_run
    with app.app_context():
        s = db.new_session(app)
        run = create_run(s, name, entities, background=False)
        s.commit()
        run = execute_run(app, s, run.id, connector=connector, sleep=lambda _s: None)
        records = [{"entity": r.entity, "side": r.side, "action": r.action, "local_id": r.local_id,
                    "remote_id": r.remote_id, "message": r.message}
                   for r in s.scalars(select(RunRecord).where(RunRecord.run_id == run.id).order_by(RunRecord.id))]
        result = RunResult(run, records)
        s.close()
        return result


def links(app, name: str, entity: str | None = None) -> list:
    from crm_accounting_sync.models import Link
    with app.app_context():
        s = db.new_session(app)
        stmt = select(Link).where(Link.connection == name).order_by(Link.id)
        if entity:
            stmt = stmt.where(Link.entity == entity)
        rows = list(s.scalars(stmt))
        s.close()
        return rows


#: ``in_app(app, fn)``: ``fn(session)`` on a short session of its own, committed
in_app = in_session


D = Decimal
