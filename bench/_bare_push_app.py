"""The floor for "store and answer": a bare WSGI app that INSERTs the raw body and answers 200.

Served by the same gunicorn as the portal in bench/pushes.py; one psycopg connection per worker,
autocommit (one durable INSERT per request, as the portal's receiver does).
"""

from __future__ import annotations

import os

import psycopg

_conn = None


def _connection():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["BARE_DATABASE_URL"], autocommit=True)
    return _conn


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    _connection().execute(
        "INSERT INTO bench_bare_push (body) VALUES (%s)", [body.decode("utf-8", "replace")]
    )
    payload = b'{"status":"0","reason":"success"}'
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]
