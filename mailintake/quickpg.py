"""A handful of statements on PostgreSQL through libpq itself (ctypes), for the idle poll only.

Why not psycopg here: importing it costs ~250 ms of CPU (asyncio, importlib.metadata, its type
system), which alone breaks the idle poll's budget (< 300 ms beyond ``--help``); loading libpq — the
copy psycopg-binary ships, else the system's libpq5 — costs ~20 ms. The idle poll reads a few
integers and writes two rows; anything else, and every error, goes to the full poll, which uses
psycopg through SQLAlchemy as always. The connection mimics the small part of psycopg's API that
:mod:`mailintake.locking` and :mod:`mailintake.quickcheck` use: ``execute(sql, params).fetchone()``
with ``%s`` placeholders, ``transaction()`` and ``close()``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import functools
import glob
import importlib.util
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_CONNECTION_OK = 0
_COMMAND_OK, _TUPLES_OK = 1, 2
_BOOL, _INTS, _TIMESTAMPS = 16, frozenset({20, 21, 23, 26}), frozenset({1114, 1184})


class QuickPgError(Exception):
    """libpq refused: the connection or a statement failed (the full poll then runs)."""


def _library_path() -> str:
    """psycopg-binary's bundled libpq when installed, else the system's."""
    spec = importlib.util.find_spec("psycopg_binary")
    for location in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(glob.glob(os.path.join(os.path.dirname(location), "psycopg_binary.libs", "libpq*.so*")))
        if found:
            return found[0]
    return "libpq.so.5"


@functools.cache
def _libpq() -> ctypes.CDLL:
    lib = ctypes.CDLL(_library_path())
    ptr, text, num = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: dict[str, tuple[list[Any], Any]] = {
        "PQconnectdbParams": ([ctypes.POINTER(text), ctypes.POINTER(text), num], ptr),
        "PQstatus": ([ptr], num),
        "PQerrorMessage": ([ptr], text),
        "PQfinish": ([ptr], None),
        "PQexecParams": ([ptr, text, num, ptr, ctypes.POINTER(text), ptr, ptr, num], ptr),
        "PQresultStatus": ([ptr], num),
        "PQresultErrorMessage": ([ptr], text),
        "PQntuples": ([ptr], num),
        "PQnfields": ([ptr], num),
        "PQgetvalue": ([ptr, num, num], text),
        "PQgetisnull": ([ptr, num, num], num),
        "PQftype": ([ptr, num], ctypes.c_uint),
        "PQclear": ([ptr], None),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


def _text(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, dt.datetime):
        return value.isoformat().encode()
    return str(value).encode()


def _value(raw: bytes, oid: int) -> Any:
    text = raw.decode("utf-8")
    if oid == _BOOL:
        return text == "t"
    if oid in _INTS:
        return int(text)
    if oid in _TIMESTAMPS:
        return dt.datetime.fromisoformat(text)
    return text


class Result:
    """The rows of one statement, converted (integers, booleans, timestamps; the rest as text)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.rows)


class Connection:
    """One libpq connection in autocommit mode."""

    def __init__(self, conninfo: str, application_name: str) -> None:
        self._lib = _libpq()
        keys = (ctypes.c_char_p * 3)(b"dbname", b"application_name", None)
        values = (ctypes.c_char_p * 3)(conninfo.encode(), application_name.encode(), None)
        self._conn: int | None = self._lib.PQconnectdbParams(keys, values, 1)  # dbname expands the URI
        if not self._conn or self._lib.PQstatus(self._conn) != _CONNECTION_OK:
            reason = self._error()
            self.close()
            raise QuickPgError(reason)

    def _error(self) -> str:
        message = self._lib.PQerrorMessage(self._conn) if self._conn else b""
        return (message or b"connection failed").decode("utf-8", "replace").strip().splitlines()[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        if not self._conn:
            raise QuickPgError("the connection is closed")
        parts = sql.split("%s")
        statement = "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))
        values = (ctypes.c_char_p * max(len(params), 1))(*[_text(p) for p in params])
        result = self._lib.PQexecParams(self._conn, statement.encode(), len(params), None, values, None, None, 0)
        if not result:
            raise QuickPgError(self._error())
        try:
            if self._lib.PQresultStatus(result) not in (_COMMAND_OK, _TUPLES_OK):
                message = (self._lib.PQresultErrorMessage(result) or b"").decode("utf-8", "replace").strip()
                raise QuickPgError(message or "the statement failed")
            return Result(self._rows(result))
        finally:
            self._lib.PQclear(result)

    def _rows(self, result: int) -> list[tuple[Any, ...]]:
        lib = self._lib
        oids = [lib.PQftype(result, col) for col in range(lib.PQnfields(result))]
        return [tuple(None if lib.PQgetisnull(result, row, col) else _value(lib.PQgetvalue(result, row, col), oid)
                      for col, oid in enumerate(oids))
                for row in range(lib.PQntuples(result))]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn:
            self._lib.PQfinish(conn)
