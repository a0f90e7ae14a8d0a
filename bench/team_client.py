"""One headless idqueue client for the team benchmark (``bench.team_bench``).

Runs the real app on the shared store (``IDQUEUE_DATABASE_URL``, no tokens: a client of the
team service), and prints one JSON line ``{"event": K, "painted": <unix time>}`` the first time
a queue row whose title carries ``bench-event-K`` has been drawn: the row is in the table's
loaded rows and the frame after that has been refreshed. It also prints ``{"ready": …}`` once
the queue has loaded.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import idqueue.app as app_module
from idqueue.app import IdqueueApp
from idqueue.config import load_settings
from idqueue.store.db import open_store
from idqueue.widgets.request_table import RequestTable

MARK = re.compile(r"bench-event-(\d+)")
LOOK_EVERY = 0.02
"""Seconds between looks at the table (adds at most this much to a measured latency)."""


def _say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class BenchClient(IdqueueApp):
    """The app, plus a look at the queue table every few milliseconds."""

    CSS_PATH = str(Path(app_module.__file__).parent / "app.tcss")  # relative paths follow the subclass

    seen: set[int]
    ready: bool = False

    def on_mount(self) -> None:
        self.seen = set()
        self.set_interval(LOOK_EVERY, self._look)

    def _look(self) -> None:
        try:
            table = self.screen.query_one(RequestTable)
        except Exception:  # the queue screen is not up yet
            return
        if not self.ready and table.total:
            self.ready = True
            _say(ready=time.time(), rows=table.total)
        for row in table.loaded_rows():
            found = MARK.search(row.title)
            if found is None or int(found.group(1)) in self.seen:
                continue
            event = int(found.group(1))
            self.seen.add(event)
            self.call_after_refresh(lambda event=event: _say(event=event, painted=time.time()))


def main() -> int:
    settings = load_settings()
    app = BenchClient.build(settings, store=open_store(settings))
    app.run(headless=True, size=(120, 40))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
