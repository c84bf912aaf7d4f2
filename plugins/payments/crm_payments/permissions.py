"""The payments plugin's permission resource, shown on the roles page (``/admin/roles``):
every role sees payments; the accounting team (and the admin) records, changes and deletes
them. Payment statuses and types are settings (``@require("settings", "write")``)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.permissions import EVERYONE, Resource

PAYMENTS = Resource("payments", _l("Payments"), read=EVERYONE, write={"admin", "accounting"},
                    description=_l("Payments of invoices, payment schedules and credits"))
