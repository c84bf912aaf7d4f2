"""Who is acting right now: set by the web UI, the API, the CLI and jobs,
read by the audit trail and by services that record ``created_by``."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar

from sqlalchemy import inspect

_actor: ContextVar[object | None] = ContextVar("crm_actor", default=None)


def current_actor():
    """The :class:`crm.models.User` acting, or None for the system."""
    return _actor.get()


def current_actor_id() -> int | None:
    """The acting user's id, read from the identity the session holds for it: it does not load
    the user again after its session's transaction ended (another session may be writing)."""
    actor = _actor.get()
    if actor is None:
        return None
    state = inspect(actor, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
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
