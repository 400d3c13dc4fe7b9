"""After the load: is the audit chain whole, and did every audited page add its row?

    python bench/check.py RUN_DIR

Prints JSON: the audit rows the load appended, by action and target; the
disclosure rows it added (the accounting of what crossed between
organizations), by source, recipient, basis and channel; and the result of
walking the whole chain. Two workers appended concurrently under load, so an
intact chain here is the serialization working, not just a formality.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.manifest import Manifest, tandem_env


def check(manifest: Manifest) -> dict[str, Any]:
    os.environ.update(
        tandem_env(database_url=manifest.database_url, secret_key=manifest.secret_key, data_dir=manifest.run_dir)
    )
    import django

    django.setup()

    from django.db.models import Count

    from tandem.audit.models import AuditEvent
    from tandem.audit.services import verify_chain
    from tandem.consent.models import Disclosure

    appended = (
        AuditEvent.objects.filter(seq__gt=manifest.audit_seq_after_generate)
        .values("action", "target_type")
        .annotate(rows=Count("id"))
        .order_by("action", "target_type")
    )
    disclosed = (
        Disclosure.objects.filter(id__gt=manifest.disclosure_id_after_generate)
        .values("source__name", "recipient__name", "basis", "channel")
        .annotate(rows=Count("id"))
        .order_by("source__name", "recipient__name", "basis", "channel")
    )
    result = verify_chain()
    return {
        "rows_appended_by_load": {f"{r['action']} {r['target_type']}".strip(): r["rows"] for r in appended},
        # "Riverbend Counseling → Northstar Psychiatry (authorization, view)": rows
        "disclosures_added_by_load": {
            f"{r['source__name']} → {r['recipient__name']} ({r['basis']}, {r['channel']})": r["rows"] for r in disclosed
        },
        "chain_rows": result.rows,
        "chain_ok": result.ok,
        "chain": result.describe(),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python bench/check.py RUN_DIR")
    report = check(Manifest.load(Path(args[0])))
    print(json.dumps(report, indent=2))
    return 0 if report["chain_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
