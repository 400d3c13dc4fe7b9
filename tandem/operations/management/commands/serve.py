"""``tandem serve``: the ASGI app (pages and WebSockets) on uvicorn.

With ``--with-worker`` it also starts ``tandem worker`` beside it and stops it
on exit, which is what ``make demo`` uses. In production run pages on a WSGI
server, sockets on uvicorn, and the worker as its own service
(docs/deployment.md).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Tandem over HTTP and WebSocket on uvicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--with-worker", action="store_true", help="Also run the background worker.")

    def handle(self, *args: Any, host: str, port: int, workers: int, with_worker: bool, **options: Any) -> None:
        worker = None
        if with_worker:
            worker = subprocess.Popen([sys.executable, "-m", "tandem.cli", "worker"])
        try:
            uvicorn.run(
                "tandem.asgi:application",
                host=host,
                port=port,
                workers=workers,
                log_level="debug" if settings.DEBUG else "info",
                # uvicorn's own log setup would print every socket's path as
                # is, and a patient's video link carries its token there: its
                # loggers go through Django's instead, which blanks secrets.
                log_config=None,
                access_log=False,
                lifespan="off",
            )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
