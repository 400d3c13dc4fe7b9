"""``tandem worker``: background tasks, periodic sweeps, and a heartbeat."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from tandem.operations.models import WorkerHeartbeat
from tandem.operations.sweeps import run_due_sweeps


class Command(BaseCommand):
    help = "Run background tasks and periodic sweeps until stopped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to wait when idle (default 2).")
        parser.add_argument("--once", action="store_true", help="Beat, sweep and drain the queue once, then exit.")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        self.running = True
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        started = timezone.now()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.stdout.write(f"Tandem worker {worker_id} started")
        tasks = Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        try:
            while self.running:
                close_old_connections()
                WorkerHeartbeat.objects.update_or_create(
                    worker_id=worker_id,
                    defaults={
                        "hostname": socket.gethostname(),
                        "pid": os.getpid(),
                        "started_at": started,
                        "beat_at": timezone.now(),
                    },
                )
                run_due_sweeps()
                tasks.run()
                if once:
                    break
                time.sleep(interval)
        finally:
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
            self.stdout.write("Tandem worker stopped")

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.running = False
