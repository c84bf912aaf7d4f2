"""The former name of :mod:`crm.accounting_connectors`, the contract of an accounting connector.

Kept so that connector plugins written against ``crm.accounting`` (outside this repository:
docs/hooks/accounting.md told them to import it) go on working; new code imports
:mod:`crm.accounting_connectors`, and the plugins of this repository may not import this
module (.importlinter).
"""
from __future__ import annotations

from crm.accounting_connectors import *  # noqa: F403  (every public name, as before)
