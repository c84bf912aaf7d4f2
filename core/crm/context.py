"""Who is acting right now: set by the web UI, the API, the CLI and jobs,
read by the audit trail and by services that record ``created_by``."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar

_actor: ContextVar[object | None] = ContextVar("crm_actor", default=None)


def current_actor():
    """The :class:`crm.models.User` acting, or None for the system."""
    return _actor.get()


def current_actor_id() -> int | None:
    actor = _actor.get()
    return getattr(actor, "id", None)


@contextlib.contextmanager
def acting_as(user):
    token = _actor.set(user)
    try:
        yield user
    finally:
        _actor.reset(token)


def set_actor(user) -> None:
    """Set the actor for the rest of this context (a request)."""
    _actor.set(user)
