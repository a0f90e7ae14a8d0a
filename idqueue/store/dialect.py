"""The two SQL dialects of the store: SQLite (the default, a file) and PostgreSQL (team mode).

The store's statements are written once, in SQLite's dialect with ``?`` and ``:name``
placeholders, and are valid PostgreSQL after the few mechanical rewrites of
:func:`to_postgres` (placeholders, ``json_each``, ``json_extract``, ``COLLATE NOCASE``…).
What cannot be rewritten mechanically — full-text search, the outbox's row locks, scalar
``MAX`` — is asked of the :class:`Dialect` object of the store (``store.dialect``).

Nothing here imports psycopg: the SQLite path never loads it.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import unicodedata
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "database_errors",
    "fts_text",
    "is_postgres_url",
    "redact_url",
    "to_postgres",
]

_FTS_SQLITE = "SELECT rowid FROM requests_fts WHERE requests_fts MATCH {}"
_FTS_POSTGRES = "SELECT rowid FROM requests_fts WHERE doc @@ CAST({} AS tsquery)"


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text).split()


def fts_text(text: str) -> str:
    """Text as PostgreSQL's search indexes it: lower case, diacritics removed, words only.

    SQLite's FTS5 (``unicode61 remove_diacritics 2``) splits on every character that is not a
    letter or digit, folds case and drops accents; PostgreSQL's parser would keep e-mail
    addresses, URLs and hyphenated words whole and fold case by the server's locale. Doing the
    same folding here, in Python, for both the indexed text and the query keeps the two
    backends' search results the same, and needs no ``unaccent`` extension.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_words(stripped.lower()))


class Dialect:
    """What differs between the backends beyond :func:`to_postgres`.

    Attributes:
        name: ``"sqlite"`` or ``"postgresql"``.
        greatest: the scalar maximum of two values (``MAX`` in SQLite, ``GREATEST`` in PostgreSQL).
        skip_locked: the suffix that takes a row lock without waiting for one (PostgreSQL).
        for_update: the suffix that takes a row lock (PostgreSQL; SQLite locks the database).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        postgres = name == "postgresql"
        self.greatest = "GREATEST" if postgres else "MAX"
        self.skip_locked = " FOR UPDATE SKIP LOCKED" if postgres else ""
        self.for_update = " FOR UPDATE" if postgres else ""
        self._fts = _FTS_POSTGRES if postgres else _FTS_SQLITE

    @property
    def is_postgres(self) -> bool:
        """True for PostgreSQL."""
        return self.name == "postgresql"

    def fts_query(self, text: str) -> str:
        """User input as a safe search query: each word prefix-matched, all words required.

        SQLite: an FTS5 query (``"word"*`` ANDed); PostgreSQL: a ``tsquery`` (``word:* & …``)
        over :func:`fts_text`'s folding. At most 12 words; empty when there is no word.
        """
        if not self.is_postgres:
            return " ".join(f'"{w}"*' for w in _words(text)[:12])
        words = [w for word in _words(text)[:12] for w in fts_text(word).split()]
        return " & ".join(f"'{w}':*" for w in words)

    def fts_seqs(self, marker: str) -> str:
        """A sub-select of the ``seq`` of the requests matching the query bound at ``marker``."""
        return self._fts.format(marker)

    def fts_row(self, seq: int, title: str, body: str, fields: str, requester: str) -> tuple[str, tuple[Any, ...]]:
        """The statement and parameters that index one request's text under ``seq``."""
        if not self.is_postgres:
            return (
                "INSERT INTO requests_fts(rowid, title, body, fields, requester) VALUES (?,?,?,?,?)",
                (seq, title, body, fields, requester),
            )
        # The words themselves are the lexemes (no parser, no dictionary): exactly the words
        # :meth:`fts_query` looks for. PostgreSQL refuses lexemes over 2 kB; nobody types those.
        text = fts_text(" ".join((title, body, fields, requester)))
        words = list(dict.fromkeys(w for w in text.split() if len(w) <= 255))
        return "INSERT INTO requests_fts(rowid, doc) VALUES (?, array_to_tsvector(CAST(? AS text[])))", (seq, words)


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception classes a database failure may raise: SQLite's, and psycopg's once loaded.

    Used as ``except database_errors() as exc:`` (evaluated only when an exception is being
    handled), so catching PostgreSQL errors never imports psycopg on the SQLite path.
    """
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


def is_postgres_url(target: object) -> bool:
    """True when ``target`` (a path or a URL) names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """The URL without its password (``postgresql://ana:***@host/db``), safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparsable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# --- rewriting SQLite statements for PostgreSQL ---------------------------------------------

@lru_cache(maxsize=1)
def _rewrites() -> tuple[list[tuple[re.Pattern[str], str]], re.Pattern[str]]:
    """The rewrites and the token pattern (compiled on first use: the SQLite path never needs them)."""
    rewrites = [
        # A request's links are a JSON object (system -> URL): its values.
        (re.compile(r"\bjson_each\(links\)"), "jsonb_each_text(CAST(links AS jsonb)) AS je(key, value)"),
        # A bound JSON list of ids, as rows of ``value``.
        (re.compile(r"\bjson_each\(([?:]\w*)\)"), r"jsonb_array_elements_text(CAST(\1 AS jsonb)) AS je(value)"),
        (re.compile(r"\bjson_extract\(([\w.]+), '\$\.(\w+)'\)"), r"(CAST(\1 AS jsonb) ->> '\2')"),
        (re.compile(r"\binstr\("), "strpos("),
        (re.compile(r"\bIS NOT excluded\."), "IS DISTINCT FROM excluded."),
        # NOCASE folds ASCII only; so does lower() under the "C" collation every text column has.
        (re.compile(r"(\w+) COLLATE NOCASE = \?"), r"lower(\1) = lower(?)"),
        (re.compile(r"(COALESCE\([^()]*\)|[\w.]+) COLLATE NOCASE"), r"lower(\1)"),
    ]
    token = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?\d*|(?<!:):[A-Za-z_]\w*|%")
    return rewrites, token


@lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """A statement of the store in PostgreSQL's dialect (psycopg's ``%s`` / ``%(name)s``).

    Quoted literals and identifiers are kept as they are (only their ``%`` is doubled, as
    psycopg requires); ``?`` becomes ``%s``, ``?N`` the N-th positional parameter and
    ``:name`` a named one.
    """
    rewrites, tokens = _rewrites()
    for pattern, replacement in rewrites:
        sql = pattern.sub(replacement, sql)

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text[0] in "'\"":
            return text.replace("%", "%%")
        if text == "%":
            return "%%"
        if text[0] == "?":
            if len(text) > 1:
                raise ValueError("numbered parameters (?N) are not portable; bind the value twice")
            return "%s"
        return f"%({text[1:]})s"

    return tokens.sub(token, sql)
