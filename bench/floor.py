"""The floor of ``bench scaleout``: a sales order's approval reduced to the SQL it cannot do
without, in a bare WSGI app (no framework, no ORM, no hooks), served by gunicorn like the CRM.

``PATCH /api/v1/sales-orders/<id>`` with a bearer token of the CRM's database: the token's user,
the order and its lines (locked), each line's reservation (the item and its balance at the
default location, refused when short), the lines' reserved quantities, the status and its
history, in one transaction; 409 when the stock is short. No audit trail, no plugins, no
workflow rules, no totals: what any implementation of the approval must send to PostgreSQL,
so that its rate is the most this machine allows for this work. ``GET /healthz`` answers 200.
``CRM_DATABASE_URL`` names the database."""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading

import psycopg

_local = threading.local()
_PATH = re.compile(r"/api/v1/sales-orders/(\d+)\Z")
DEFAULT_LOCATION_ID = 1


def _connection() -> psycopg.Connection:
    if not hasattr(_local, "connection"):
        url = os.environ["CRM_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _local.connection = psycopg.connect(url)
    return _local.connection


def _answer(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    try:
        return _route(environ, start_response)
    except _Short as short:
        return _answer(start_response, "409 Conflict", {"error": "insufficient_stock", "item_id": short.args[0]})


def _route(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _answer(start_response, "200 OK", {"status": "ok"})
    found = _PATH.match(path)
    if environ.get("REQUEST_METHOD") != "PATCH" or found is None:
        return _answer(start_response, "404 Not Found", {"error": "not found"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if json.loads(environ["wsgi.input"].read(length) or b"{}").get("status") != "Approved":
        return _answer(start_response, "422 Unprocessable Entity", {"error": "only approvals"})
    token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
    return _approve(start_response, int(found.group(1)), hashlib.sha256(token.encode()).hexdigest())


def _approve(start_response, order_id: int, token_hash: str) -> list[bytes]:
    connection = _connection()
    with connection.transaction():
        user = connection.execute(
            "SELECT u.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s "
            "AND t.revoked_at IS NULL AND u.active", (token_hash,)).fetchone()
        if user is None:
            return _answer(start_response, "401 Unauthorized", {"error": "unauthorized"})
        lines = connection.execute(
            "SELECT d.status, l.id, l.item_id, l.quantity FROM documents d "
            "JOIN document_lines l ON l.document_id = d.id "
            "WHERE d.id = %s AND d.doc_type = 'sales_order' AND l.item_id IS NOT NULL FOR UPDATE OF d",
            (order_id,)).fetchall()
        if not lines:
            return _answer(start_response, "404 Not Found", {"error": "not found"})
        if lines[0][0] != "Created":
            return _answer(start_response, "409 Conflict", {"error": "invalid_transition"})
        for _status, line_id, item_id, quantity in lines:
            reserved = connection.execute(
                "UPDATE items SET reserved = reserved + %s WHERE id = %s AND on_hand - reserved >= %s",
                (quantity, item_id, quantity)).rowcount
            if reserved:
                reserved = connection.execute(
                    "UPDATE stock_balances SET reserved = reserved + %s WHERE product_id = %s "
                    "AND location_id = %s AND on_hand - reserved >= %s",
                    (quantity, item_id, DEFAULT_LOCATION_ID, quantity)).rowcount
            if not reserved:
                raise _Short(item_id)   # leaving the block rolls the transaction back
            connection.execute("UPDATE document_lines SET qty_reserved = %s WHERE id = %s", (quantity, line_id))
        connection.execute("UPDATE documents SET status = 'Approved', version = version + 1, updated_at = now() "
                           "WHERE id = %s", (order_id,))
        connection.execute("INSERT INTO document_status_history (document_id, from_status, to_status, user_id, at, "
                           "note) VALUES (%s, 'Created', 'Approved', %s, now(), '')", (order_id, user[0]))
    return _answer(start_response, "200 OK", {"id": order_id, "status": "Approved"})


class _Short(Exception):
    """A line's product is short: the approval is refused and its transaction rolled back."""
