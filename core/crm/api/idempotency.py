"""``Idempotency-Key`` for POST endpoints that create documents or payments."""
from __future__ import annotations

from collections.abc import Callable

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from crm.api.schemas import dumped
from crm.db import db
from crm.errors import ValidationError
from crm.services import idempotency


def create_once(scope: str, body, create: Callable, load: Callable, schema=None):
    """Run ``create(session) -> record`` once per ``Idempotency-Key``: the same key
    with the same body returns ``load(session, id)`` of the first record; the same
    key with another body is refused (422). Without the header, just create. With
    ``schema``, the new record is answered dumped by it in its transaction (:func:`dumped`)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        with db.transaction() as session:
            return _answer(create(session), schema)
    if not key.strip() or len(key) > idempotency.MAX_KEY_LENGTH:
        raise ValidationError.for_field("Idempotency-Key", _("must be 1 to %(max)s characters",
                                                             max=idempotency.MAX_KEY_LENGTH))
    user_id = g.user.id
    digest = idempotency.body_hash(body)
    previous = _previous(scope, key, user_id, digest, load)
    if previous is not None:
        return previous
    try:
        with db.transaction() as session:
            record = create(session)
            idempotency.remember(session, user_id, scope, key, digest, record.id)
            return _answer(record, schema)
    except IntegrityError:  # the same key raced us and won: answer with its record
        previous = _previous(scope, key, user_id, digest, load)
        if previous is None:
            raise
        return previous


def _answer(record, schema):
    return dumped(schema, record) if schema is not None else record


def _previous(scope, key, user_id, digest, load):
    session = db.session
    found = idempotency.find(session, user_id, scope, key)
    if found is None:
        return None
    if found.request_hash != digest:
        raise ValidationError(_("this Idempotency-Key was used with a different request body"),
                              {"Idempotency-Key": [_("reused with a different body")]}, code="idempotency_mismatch")
    return load(session, found.resource_id)
