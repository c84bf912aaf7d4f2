"""The accounting sync's permission resource, shown on the roles page (``/admin/roles``): the
accounting team (and the admin) sees the sync log and the links, syncs and resolves conflicts.
The connections (credentials, mappings, QuickBooks consent) are settings: the admin's
(``@require("settings", "write")``)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.permissions import Resource

ACCOUNTING_SYNC = Resource("accounting_sync", _l("Accounting sync"), read={"admin", "accounting"},
                           write={"admin", "accounting"},
                           description=_l("Sync runs, the sync log and the links of records with the accounting system"))
