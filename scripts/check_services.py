"""Check that PostgreSQL and Redis answer at the URLs the test suite will use.

Exit 0 when both answer; exit 1 with a message naming what is missing.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    db_url = os.environ.get("TANDEM_DATABASE_URL", "")
    redis_url = os.environ.get("TANDEM_REDIS_URL", "")
    problems = []
    try:
        import dj_database_url
        import psycopg

        cfg = dj_database_url.parse(db_url)
        psycopg.connect(
            host=cfg["HOST"] or None,
            port=cfg["PORT"] or None,
            user=cfg["USER"] or None,
            password=cfg["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        problems.append(f"PostgreSQL at {db_url} did not answer ({type(exc).__name__}: {exc})")
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis at {redis_url} did not answer ({type(exc).__name__}: {exc})")
    for problem in problems:
        sys.stderr.write(problem + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
