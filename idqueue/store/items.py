"""Reads of single source items (the raw GitHub issue or Slack message a request is made of)."""

from __future__ import annotations

from idqueue.domain.models import SourceItem
from idqueue.store.db import Store, item_from_json


def source_item(store: Store, item_id: str) -> SourceItem | None:
    """The stored source item with this id, or None when it is not in the store."""
    row = store.conn.execute("SELECT data FROM items WHERE id=?", (item_id,)).fetchone()
    return item_from_json(row["data"]) if row else None
