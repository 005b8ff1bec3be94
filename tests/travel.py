"""Run tests as if it were another moment: `pytest --at leap-day` (or any ISO time, optionally followed by a zone).

Every test starts at that moment and the clock ticks from there (`time-machine`), in this process and in the
Python processes the tests start (through `clock_shim/sitecustomize.py`), so a test that depends on the day it
runs fails here rather than on some future date in CI. `make test-dates` runs the date-sensitive tests
(`-m calendar`) at each of the ODD_MOMENTS below; `.ci/run` runs that step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

# Calendar edges the suite must hold at. Each is a moment the tests start at; the comment says why it is odd.
ODD_MOMENTS: dict[str, str] = {
    # The last day of a month, and the day carried-over leave expires (31 March) in the sample policy.
    "month-end": "2027-03-31T16:00:00+00:00",
    # New Year's Eve: tomorrow is a holiday and a new leave year; in Tokyo it is already 1 January.
    "new-years-eve": "2026-12-31T18:00:00+00:00",
    # A leap day.
    "leap-day": "2028-02-29T12:00:00+00:00",
    # A Friday afternoon before a Monday public holiday (31 May 2027: Memorial Day in the US, the spring bank
    # holiday in the UK), so "next working day" is Tuesday.
    "long-weekend": "2027-05-28T16:00:00+00:00",
    # A minute before midnight in a UTC-10 zone, whose local date is a day behind UTC's (it is already 1 July
    # there in UTC), with the process's own local time zone set to it.
    "honolulu-midnight": "2027-06-30T23:59:00 Pacific/Honolulu",
}

SHIM_DIR = Path(__file__).resolve().parent / "clock_shim"
ENV_OFFSET = "BACKOFFICE_TEST_CLOCK_OFFSET"  # seconds to add to the real clock, read by clock_shim
ENV_ZONE = "BACKOFFICE_TEST_CLOCK_ZONE"  # the process's local time zone while travelling


def parse_moment(text: str) -> datetime:
    """A name from ODD_MOMENTS, or an ISO time with an offset, or an ISO time followed by an IANA zone name."""
    spec = ODD_MOMENTS.get(text, text).strip()
    stamp, _, zone = spec.partition(" ")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise pytest.UsageError(f"--at {text!r}: not one of {', '.join(ODD_MOMENTS)} nor an ISO time") from None
    if zone:
        return moment.replace(tzinfo=ZoneInfo(zone))
    if moment.tzinfo is None:
        raise pytest.UsageError(f"--at {text!r}: give a UTC offset or a zone name (e.g. '… Pacific/Honolulu')")
    return moment


@dataclass
class Travel:
    """The whole run's time travel: started once, moved back to the moment before each test."""

    moment: datetime
    real_start: float  # the real epoch seconds when the run started
    monotonic_start: float
    traveller: time_machine.Traveller | None = None

    def start(self) -> None:
        self.traveller = time_machine.travel(self.moment, tick=True).start()
        self._export()

    def restart(self) -> None:
        assert self.traveller is not None
        self.traveller.move_to(self.moment, tick=True)
        self._export()

    def _export(self) -> None:
        """Tell the Python processes a test starts where the clock is (they apply it in clock_shim)."""
        real_now = self.real_start + (time.monotonic() - self.monotonic_start)
        os.environ[ENV_OFFSET] = repr(self.moment.timestamp() - real_now)
        zone = self.moment.tzinfo.key if isinstance(self.moment.tzinfo, ZoneInfo) else "UTC"
        os.environ[ENV_ZONE] = zone
        path = os.environ.get("PYTHONPATH", "")
        if str(SHIM_DIR) not in path.split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIM_DIR), path) if p)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--at",
        default=os.environ.get("BACKOFFICE_TEST_AT") or None,
        metavar="MOMENT",
        help=f"run every test as if it started at MOMENT: one of {', '.join(ODD_MOMENTS)}, or an ISO time "
        "with an offset or followed by a zone name (also BACKOFFICE_TEST_AT)",
    )


def pytest_configure(config: pytest.Config) -> None:
    at = config.getoption("--at")
    if not at:
        return
    travel = Travel(parse_moment(at), real_start=time.time(), monotonic_start=time.monotonic())
    travel.start()
    config.stash[_KEY] = travel


def pytest_report_header(config: pytest.Config) -> str | None:
    travel = config.stash.get(_KEY, None)
    return f"clock: every test starts at {travel.moment.isoformat()} ({travel.moment.tzinfo})" if travel else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    travel = item.config.stash.get(_KEY, None)
    if travel is not None:
        travel.restart()


_KEY = pytest.StashKey[Travel]()
