"""Small helpers every record service uses."""
from __future__ import annotations

from crm.errors import Conflict


def check_version(record, version: int | None) -> None:
    """Optimistic concurrency: a PATCH that sends ``version`` must match the stored one."""
    if version is not None and version != record.version:
        raise Conflict(f"this record was changed by someone else (version {record.version}, you sent {version}); "
                       "reload it and apply your change again", {"version": ["stale"]}, code="stale_version")


def apply_changes(record, data: dict) -> None:
    for key, value in data.items():
        setattr(record, key, value)
