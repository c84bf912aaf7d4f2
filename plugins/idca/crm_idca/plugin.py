"""Hook implementations of the IDCA plugin (id ``idca``)."""
from __future__ import annotations

from crm import hookimpl
from crm_idca import models  # noqa: F401  (registers the plugin's tables)


@hookimpl
def crm_api_blueprints():
    from crm_idca.api import blp
    return [blp]
