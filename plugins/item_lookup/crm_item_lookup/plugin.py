"""Hook implementations of the item lookup plugin (id ``item_lookup``)."""
from __future__ import annotations

from crm import hookimpl


@hookimpl
def crm_api_blueprints():
    from crm_item_lookup.api import blp
    return [blp]
