"""The warehouses plugin's permission resource, shown on the roles page (``/admin/roles``):
the warehouse, purchasing and sales teams see the warehouses and their stock; the admin
creates, changes and deletes them."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.permissions import Resource

WAREHOUSES = Resource("warehouses", _l("Warehouses"), read=frozenset({"admin", "warehouse", "purchasing", "sales"}),
                      write=frozenset({"admin"}), description=_l("Warehouses and the stock kept in each"))
