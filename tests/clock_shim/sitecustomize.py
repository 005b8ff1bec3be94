"""Test-only: a Python process started by a test under `pytest --at` runs on the same shifted clock.

tests/travel.py puts this folder on PYTHONPATH and sets the offset and zone; Python imports `sitecustomize`
at start-up. Without those variables this does nothing.
"""

import os

_offset = os.environ.get("BACKOFFICE_TEST_CLOCK_OFFSET")
if _offset:
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    _zone = ZoneInfo(os.environ.get("BACKOFFICE_TEST_CLOCK_ZONE") or "UTC")
    time_machine.travel(datetime.fromtimestamp(time.time() + float(_offset), _zone), tick=True).start()
