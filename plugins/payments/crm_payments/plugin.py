"""Hook implementations of the payments plugin (id ``payments``)."""
from __future__ import annotations

from crm import hookimpl
from crm_payments import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints():
    from crm_payments.api import blp
    return [blp]
