"""Hook implementations of the accounting sync plugin (id ``accounting_sync``)."""
from __future__ import annotations

from crm import hookimpl
from crm_accounting_sync import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints():
    from crm_accounting_sync.api import blp
    return [blp]
