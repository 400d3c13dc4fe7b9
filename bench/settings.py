"""Settings for the benchmark server: Tandem's own, plus one trivial view.

Everything else (middleware, database options, logging) is exactly what
production runs, read from the same ``TANDEM_*`` variables, so the trivial
view measures the ceiling of the very stack the pages run on.
"""

from tandem.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
