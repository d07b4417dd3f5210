"""Hypothesis profiles of the layout property suite.

- ``ci`` (default): derandomized, 200 examples per property, no deadline; the whole tests/layout run
  stays within a few minutes on a 2-core machine.
- ``fuzz``: randomized, ``LAYOUT_FUZZ_EXAMPLES`` examples per property (default 2000), with the
  example database, for long sessions (``make fuzz`` runs tests/layout/fuzz.py).

Select one with ``HYPOTHESIS_PROFILE=fuzz``. The profiles apply to this suite's properties only
(``layout_settings()`` in test_properties.py), never to the rest of the test session.

Shrinking a failing layout may take hypothesis up to five minutes per property (each example writes
and reads a workbook); failures.shrink_budget() caps it per property and for the session
(``LAYOUT_SHRINK_SECONDS``: ci 45 s a property and 140 s in all, so a failing suite still ends
within its time budget; fuzz: 300 s a property, hypothesis' own cap).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]  # no "explain" run

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=200,
    deadline=None,
    suppress_health_check=_SUPPRESS,
    phases=_PHASES,
    print_blob=False,
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    max_examples=int(os.environ.get("LAYOUT_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=_SUPPRESS,
    phases=_PHASES,
    print_blob=True,
)
