"""The wait between tries of a polling loop that must outlive outages (the API's change
feed, the event relay, the index preload): the poll interval while it works, doubling after
each failure up to a cap, and the start and end of each outage, for one log line each
rather than one per failed try."""

from __future__ import annotations

import time


class Backoff:
    def __init__(self, base_s: float, cap_s: float, floor_s: float = 0.0) -> None:
        self.base_s, self.cap_s, self.floor_s = base_s, cap_s, floor_s
        self.delay_s = base_s
        self._down_since: float | None = None

    def failed(self) -> bool:
        """Count a failure (the next wait doubles); True when it starts an outage."""
        starts = self._down_since is None
        if starts:
            self._down_since = time.monotonic()
        self.delay_s = min(self.cap_s, max(self.delay_s * 2, self.floor_s))
        return starts

    def succeeded(self) -> float | None:
        """Back to the poll interval; the outage's length when this ends one, else None."""
        self.delay_s = self.base_s
        if self._down_since is None:
            return None
        lasted, self._down_since = time.monotonic() - self._down_since, None
        return lasted
