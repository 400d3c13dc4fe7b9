"""Each run gets a database of its own, made fresh and thrown away after.

The audit table refuses UPDATE and DELETE, so emptying a used database is not
an option, and a fresh one also keeps runs comparable. SQLite needs nothing
here (a new file in the run directory); PostgreSQL databases are dropped and
created through the server's ``postgres`` maintenance database.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class UnsafeDatabase(SystemExit):
    pass


def vendor(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in {"postgres", "postgresql"}:
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise SystemExit(f"The bench runs on SQLite or PostgreSQL, not {scheme or url!r}")


def postgres_name(url: str) -> str:
    """The database name, refused unless it is plainly a bench database.

    The generator drops this database before creating it; insisting on
    "bench" in its name keeps a pasted production or test URL from being wiped.
    """
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise UnsafeDatabase(
            f"Refusing to drop and recreate PostgreSQL database {name!r}: "
            "the bench only uses databases whose name contains 'bench' (for example tandem_bench)."
        )
    return name


def _maintenance_url(url: str) -> str:
    # libpq takes both postgres:// and postgresql://, as dj-database-url does.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def _admin(url: str, statements: list[tuple[str, str]]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        for template, name in statements:
            conn.execute(sql.SQL(template).format(sql.Identifier(name)))


def recreate_postgres(url: str) -> None:
    name = postgres_name(url)
    # FORCE ends sessions a crashed earlier run may have left behind (PostgreSQL 13+).
    _admin(url, [("DROP DATABASE IF EXISTS {} WITH (FORCE)", name), ("CREATE DATABASE {}", name)])


def drop_postgres(url: str) -> None:
    _admin(url, [("DROP DATABASE IF EXISTS {} WITH (FORCE)", postgres_name(url))])
