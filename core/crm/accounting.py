"""The contract of an accounting connector (hook ``crm_accounting_connectors``).

A connector translates between the CRM's records and one accounting system's.
The accounting_sync plugin runs the sync engine; a third party can add a system
(Xero, Holded, ...) as a plugin of its own that implements this protocol.
"""
from __future__ import annotations

from typing import Protocol


class Connector(Protocol):
    #: unique name, e.g. "quickbooks"
    name: str
    #: entities this system supports, e.g. ("customers", "items", "invoices")
    entities: tuple[str, ...]

    def __init__(self, settings: dict, secrets: dict) -> None: ...

    def list_changed(self, entity: str, since) -> list[dict]:
        """Remote records of ``entity`` changed since ``since`` (None: all)."""

    def push(self, entity: str, record: dict, remote_id: str | None, remote_version: str | None) -> dict:
        """Create or update a remote record; returns it with its id and version."""

    def to_remote(self, entity: str, record: dict) -> dict:
        """Translate a CRM record into the remote system's shape."""

    def from_remote(self, entity: str, remote: dict) -> dict:
        """Translate a remote record into the CRM's shape."""
