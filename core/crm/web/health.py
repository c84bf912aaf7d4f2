"""Probes for load balancers and orchestrators: no sign-in, JSON, never cached.

* ``GET /healthz``: the process answers (200 ``{"status": "ok"}``); touches nothing else, so a
  database outage does not get every web process restarted.
* ``GET /readyz``: the process can serve: the database answers, the migrations of the core
  and every plugin are applied, the job queue answers. 200 ``{"status": "ready", "checks":
  {...}}`` or 503 ``{"status": "not ready", ...}`` naming what failed. ``worker`` says whether a
  background worker was heard from lately (``running``, ``not running``); it is not a condition
  of readiness (the web processes serve without one).
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from crm.db import db
from crm.permissions import require

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

#: endpoints that must not touch the database before their view runs
PROBES = frozenset({"health.healthz", "health.readyz"})


def _answer(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/healthz")
@require(public=True)
def healthz():
    return _answer({"status": "ok"})


def _check(name: str, check) -> str:
    """``"ok"``, or what is wrong (said in the log with its detail; the answer stays short,
    as anyone may ask)."""
    try:
        return check() or "ok"
    except Exception as exc:  # noqa: BLE001  whatever fails makes the process not ready
        log.warning("readiness: %s: %s", name, getattr(exc, "detail", "") or exc)
        return "unreachable"


def _database() -> str:
    with db.engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return "ok"


def _migrations() -> str:
    from crm import migrate
    behind = migrate.pending(current_app)
    return f"pending: {', '.join(behind)} (run crm db upgrade)" if behind else "ok"


def _queue() -> str:
    from crm.worker import queue_problem
    problem = queue_problem(current_app)
    if problem:
        raise RuntimeError(problem)
    return "ok"


@bp.route("/readyz")
@require(public=True)
def readyz():
    from crm.worker import worker_status
    checks = {"database": _check("database", _database)}
    checks["migrations"] = _check("migrations", _migrations) if checks["database"] == "ok" else "unknown"
    checks["queue"] = _check("queue", _queue)
    ready = all(value == "ok" for value in checks.values())
    worker = worker_status(current_app)
    body = {"status": "ready" if ready else "not ready", "checks": checks,
            "worker": "running" if worker.running else "not running"}
    return _answer(body, 200 if ready else 503)
