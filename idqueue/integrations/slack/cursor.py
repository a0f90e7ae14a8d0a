"""The Slack source's cursor: per-channel scan state and per-request entries, stored as
separate keys so a batch carries only what it changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from idqueue.domain.models import (
    SourceItem,
    TimelineEvent,
)
from idqueue.integrations.slack.convert import int_or_zero, ts_key

# Thread actions after which a request no longer needs its thread watched (once it is old).
FINAL_ACTIONS = frozenset({"close", "backlog"})
STATE_ACTIONS = frozenset({"close", "backlog", "reopen", "resume", "pending"})
def digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=8).hexdigest()


def item_digest(item: SourceItem) -> str:
    return digest([
        item.title, item.body, item.updated_at.isoformat(), item.links, item.fields, item.raw,
        [item.requester.id, item.requester.name] if item.requester else None,
    ])


def thread_digest(events: list[TimelineEvent]) -> str:
    """Digest of a thread's converted events.

    Taken over what is stored (not the raw replies) so that a change that only shows in the
    conversion, such as a user name that resolved after a ``users.info`` outage, re-sends them.
    """
    return digest([
        [e.uid, e.kind.value, e.at.isoformat(), e.actor_id, e.actor_name, e.body, e.url, e.is_bot, e.data]
        for e in events
    ])


def last_activity(ts: str, entry: Mapping[str, Any]) -> Decimal:
    """The newest of a request's ts, its latest reply and its last edit (exact)."""
    stamps = [ts, entry.get("lr"), entry.get("e")]
    return max(ts_key(s) for s in stamps if isinstance(s, str))


def closed_in_thread(entry: Mapping[str, Any]) -> bool:
    """True when the last idqueue state action in the request's thread closed or backlogged it."""
    replies = entry.get("r")
    if not isinstance(replies, dict):
        return False
    actions = [(ts_key(ts), a) for ts, a in replies.items() if isinstance(ts, str) and a in STATE_ACTIONS]
    return bool(actions) and max(actions)[1] in FINAL_ACTIONS


# --------------------------------------------------------------------------- poll state


# Cursor keys of a channel (see :class:`ChannelState`); channel ids and ts never contain "/".
def channel_key(channel: str) -> str:
    return f"channel:{channel}"


def request_key(channel: str, ts: str) -> str:
    return f"req:{channel}/{ts}"


def seen_key(channel: str, chunk: int) -> str:
    return f"seen:{channel}/{chunk}"


@dataclass
class Scan:
    """A history scan of one channel's window, possibly spread over several polls.

    ``seen`` (the requests the scan met, to tell deleted ones when it completes) grows with the
    window, so it is not part of the channel's cursor value: each batch stores only the ts it
    added (``fresh``) as one more chunk, ``seen:<channel>/<n>`` for ``n`` in 1..``chunks``.
    """

    oldest: str
    start: str
    next: str = ""
    pages: int = 0
    chunks: int = 0
    # Filled through add_seen only, so the list and the set always agree.
    seen: list[str] = field(default_factory=list, init=False)
    fresh: list[str] = field(default_factory=list, init=False)
    _seen_set: set[str] = field(default_factory=set, init=False, repr=False)

    def add_seen(self, stamps: Iterable[str]) -> None:
        """Record request ts met by the scan (new ones also go to ``fresh``)."""
        for ts in stamps:
            if ts not in self._seen_set:
                self._seen_set.add(ts)
                self.seen.append(ts)
                self.fresh.append(ts)

    def has_seen(self, ts: str) -> bool:
        """Whether the scan met this request."""
        return ts in self._seen_set

    def dump(self) -> dict[str, Any]:
        return {"oldest": self.oldest, "start": self.start, "next": self.next,
                "pages": self.pages, "chunks": self.chunks}

    @classmethod
    def load(cls, value: Any, channel: str, cursors: Mapping[str, Any]) -> Scan | None:
        if not isinstance(value, dict) or not isinstance(value.get("oldest"), str):
            return None
        scan = cls(
            oldest=value["oldest"],
            start=str(value.get("start") or value["oldest"]),
            next=str(value.get("next") or ""),
            pages=int(value.get("pages") or 0),
        )
        legacy = value.get("seen")
        if isinstance(legacy, list):
            # The whole list inside the channel value (the layout before chunks): it stays
            # ``fresh``, so the next batch stores it as this scan's first chunk.
            scan.add_seen(s for s in legacy if isinstance(s, str))
            return scan
        chunks = int_or_zero(value.get("chunks"))
        for n in range(1, chunks + 1):
            part = cursors.get(seen_key(channel, n))
            if not isinstance(part, list):
                # Without every chunk a request the scan met would look deleted: start over.
                return None
            scan.add_seen(s for s in part if isinstance(s, str))
        scan.fresh.clear()
        scan.chunks = chunks
        return scan


class Requests(Mapping[str, dict[str, Any]]):
    """A channel's known requests, ts → cursor entry, remembering which changed since the last batch.

    An entry is a small dict that is replaced (:meth:`put`), never mutated, so batches that
    carry it can share it.
    """

    def __init__(self, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self._entries: dict[str, dict[str, Any]] = entries if entries is not None else {}
        self._changed: dict[str, None] = {}

    def __getitem__(self, ts: str) -> dict[str, Any]:
        return self._entries[ts]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ts: object) -> bool:
        return ts in self._entries

    def put(self, ts: str, entry: dict[str, Any]) -> None:
        """Set a request's entry (a no-op, nothing to store, when it is unchanged)."""
        if self._entries.get(ts) != entry:
            self._entries[ts] = entry
            self._changed[ts] = None

    def drop(self, ts: str) -> None:
        """Forget a request (its cursor key is deleted with the next batch)."""
        if self._entries.pop(ts, None) is not None:
            self._changed[ts] = None

    def mark_changed(self, stamps: Iterable[str]) -> None:
        """Store these entries with the next batch although they did not change (migration)."""
        self._changed.update((ts, None) for ts in stamps if ts in self._entries)

    def take_changes(self) -> dict[str, dict[str, Any] | None]:
        """The entries changed since the last call (None: forgotten), and start over."""
        changes = {ts: self._entries.get(ts) for ts in self._changed}
        self._changed.clear()
        return changes


@dataclass
class ChannelState:
    """Cursor state of one channel, spread over cursor keys so a batch stores only what it changed.

    * ``channel:<C>``: the channel-level state, small and stored with every batch: ``scan``
      (position of the history scan in progress, see :class:`Scan`), ``synced`` (start of the
      last complete scan), ``pending`` (threads to read first on the next poll) and
      ``unlinked`` (linked messages found gone, so they are not asked for again; absent when
      none).
    * ``req:<C>/<ts>``: one per known request (``requests``), stored when it changes and
      deleted (a JSON ``null`` in the batch) when the request is forgotten: ``e`` edited ts,
      ``lr`` latest_reply, ``rc`` reply_count, ``r`` reply ts → idqueue action ("" for plain
      replies), ``l`` GitHub ids from the thread, ``h`` item digest, ``th`` thread digest,
      ``c`` when the thread was last checked (epoch s), ``u`` user ids shown as "unknown user"
      because ``users.info`` failed transiently (absent when none).
    * ``seen:<C>/<n>``: the scan's ``seen`` chunks, deleted when the scan completes.

    Before this layout every entry lived under ``requests`` in ``channel:<C>`` (and the scan
    held its whole ``seen`` list), rewritten whole by every batch: a cost that grew with the
    channel. Such a value is split on the next poll: its first batch stores every entry under
    its own key and the channel value without them, in the same transaction.
    """

    channel: str
    requests: Requests = field(default_factory=Requests)
    scan: Scan | None = None
    synced: str | None = None
    pending: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # cursor keys to delete with the next batch

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scan": self.scan.dump() if self.scan else None,
            "synced": self.synced,
            "pending": list(self.pending),
        }
        if self.unlinked:
            out["unlinked"] = list(self.unlinked)
        return out

    def retire_scan(self) -> None:
        """The scan is complete: forget it; its ``seen`` chunks go with the next batch."""
        if self.scan is not None:
            self.stale.extend(seen_key(self.channel, n) for n in range(1, self.scan.chunks + 1))
        self.scan = None

    def cursor_changes(self) -> dict[str, Any]:
        """The cursor values to store with the next batch (None deletes a key).

        The channel value, the entries changed since the last batch, the scan's new ``seen``
        chunk and deletions of keys no longer used. Deletions come first so that a key deleted
        and written again (a new scan's first chunk) ends up written.
        """
        out: dict[str, Any] = dict.fromkeys(self.stale)
        self.stale.clear()
        scan = self.scan
        if scan is not None and scan.fresh:
            scan.chunks += 1
            out[seen_key(self.channel, scan.chunks)] = list(scan.fresh)
            scan.fresh.clear()
        for ts, entry in self.requests.take_changes().items():
            out[request_key(self.channel, ts)] = entry
        out[channel_key(self.channel)] = self.dump()
        return out

    @classmethod
    def load(cls, channel: str, cursors: Mapping[str, Any]) -> ChannelState:
        """The channel's state from all of the source's cursors (either layout)."""
        value = cursors.get(channel_key(channel))
        value = value if isinstance(value, dict) else {}
        state = cls(channel)
        req_prefix, seen_prefix = request_key(channel, ""), f"seen:{channel}/"
        entries: dict[str, dict[str, Any]] = {}
        seen_keys: list[str] = []
        for key, entry in cursors.items():
            if key.startswith(req_prefix):
                if isinstance(entry, dict):
                    entries[key[len(req_prefix):]] = entry
                else:
                    state.stale.append(key)
            elif key.startswith(seen_prefix):
                seen_keys.append(key)
        legacy = value.get("requests")
        legacy_entries = (
            {k: v for k, v in legacy.items() if isinstance(k, str) and isinstance(v, dict)}
            if isinstance(legacy, dict) else {}
        )
        entries.update(legacy_entries)
        state.requests = Requests(entries)
        state.requests.mark_changed(legacy_entries)
        state.scan = Scan.load(value.get("scan"), channel, cursors)
        in_use = {seen_key(channel, n) for n in range(1, state.scan.chunks + 1)} if state.scan else set()
        state.stale.extend(k for k in seen_keys if k not in in_use)
        synced = value.get("synced")
        pending = value.get("pending")
        state.synced = synced if isinstance(synced, str) else None
        state.pending = [p for p in pending if isinstance(p, str)] if isinstance(pending, list) else []
        unlinked = value.get("unlinked")
        state.unlinked = [u for u in unlinked if isinstance(u, str)] if isinstance(unlinked, list) else []
        return state


def unresolved_ids(entry: Mapping[str, Any]) -> list[str]:
    """The user ids a cursor entry still shows as "unknown user" (its ``u``)."""
    value = entry.get("u")
    return [uid for uid in value if isinstance(uid, str)] if isinstance(value, list) else []
