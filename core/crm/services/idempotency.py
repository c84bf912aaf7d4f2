"""Idempotent creation: a repeated ``Idempotency-Key`` returns the first result."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.jsonutil import to_jsonable
from crm.models import IdempotencyKey

MAX_KEY_LENGTH = 200


def body_hash(body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, default=to_jsonable, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def find(session: Session, user_id: int | None, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                       IdempotencyKey.scope == scope, IdempotencyKey.key == key))


def remember(session: Session, user_id: int | None, scope: str, key: str, digest: str, resource_id: int) -> None:
    session.add(IdempotencyKey(user_id=user_id, scope=scope, key=key, request_hash=digest, resource_id=resource_id))
    session.flush()
