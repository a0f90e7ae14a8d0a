"""The support mailbox as a source: new mail in ``INBOX`` and the sent folder, over IMAP.

Each poll asks each folder's ``STATUS (UIDVALIDITY UIDNEXT)``; a folder with nothing new costs
that one command (an idle poll is two commands on one kept-open connection). New messages are
listed with ``UID SEARCH UID n:*`` (first sync: ``SINCE`` ``email.history_days``), ordered by
arrival across both folders (each folder's UIDs stay in order), fetched ``email.fetch_batch`` at a
time with ``UID FETCH (BODY.PEEK[])`` (never marks mail read), threaded (:mod:`.threads`) and
committed batch by batch with the cursors ``folder:<name>`` = ``{uidvalidity, uid}`` and
``threads`` (the thread index).

A changed ``UIDVALIDITY`` (the server rebuilt the folder) re-reads the folder from the start of
the history window: ids come from ``Message-ID`` headers, so everything re-read upserts the same
items and events; nothing is duplicated.

Instant updates: :meth:`EmailSource.wait_for_change` waits once in IMAP ``IDLE`` (RFC 2177) for
new mail, and :class:`~idqueue.integrations.email.idle.MailWatcher` keeps a connection in ``IDLE``
in the background, where the server offers it; polling stays the fallback.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from imapclient import IMAPClient

from idqueue.clock import clock_for
from idqueue.config import Settings
from idqueue.domain.models import SourceItem, SourceKind
from idqueue.integrations.base import Batch, FetchStats, NotFound, Source, SourceError
from idqueue.integrations.email import imap
from idqueue.integrations.email.convert import to_event, to_item
from idqueue.integrations.email.parse import ParsedMail, parse_mail
from idqueue.integrations.email.threads import ThreadIndex

LIST_CHUNK = 5000
"""UIDs per ``UID FETCH (INTERNALDATE)`` when listing what is new."""


@dataclass(order=True)
class _New:
    """One new message to read, ordered by arrival (``order``: arrival, never before an earlier UID's)."""

    order: datetime
    at: datetime = field(compare=False)
    folder: str = field(compare=False)
    uid: int = field(compare=False)


@dataclass
class _FolderPlan:
    folder: str
    uidvalidity: int
    last: int
    uidnext: int
    new: list[_New]
    resync: bool = False


class EmailSource(Source):
    """Reads the support mailbox (``email.mailbox`` and ``email.sent_mailbox``).

    Args:
        settings: the configuration (``email`` section; the roster's ``email`` fields).
        clock: "now" (the first sync's ``SINCE`` date).
        sleep: unused (IMAP has no rate limit to wait out); accepted like the other sources.
    """

    kind: ClassVar[SourceKind] = SourceKind("email")
    name = "email"

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.cfg = settings.email
        self.clock = clock or clock_for(settings)  # IDQUEUE_NOW moves the history window too
        self.team_addresses = {a.lower() for a in [self.cfg.address, *(m.email for m in settings.team.values())] if a}
        self._client: IMAPClient | None = None
        self._idle: IMAPClient | None = None

    @property
    def folders(self) -> list[str]:
        """The folders read, inbox first."""
        return list(dict.fromkeys([self.cfg.mailbox, self.cfg.sent_mailbox]))

    def _open(self) -> IMAPClient:
        if self._client is None:
            self._client = imap.connect(self.cfg)
        return self._client

    def close(self) -> None:
        """Log out of both connections."""
        imap.close(self._client)
        imap.close(self._idle)
        self._client = self._idle = None

    # ------------------------------------------------------------------ fetch
    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield batches of new threads (items) and messages (events) since the folder cursors."""
        try:
            yield from self._fetch(cursors)
        except SourceError:
            self._drop()
            raise
        except Exception as exc:
            self._drop()
            raise imap.as_source_error(exc, self.cfg.imap_host or "", "reading mail") from None

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.shutdown()
            except Exception:
                pass

    def _fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        client = self._open()
        stats = FetchStats()
        plans = [self._plan(client, folder, cursors.get(f"folder:{folder}"), stats) for folder in self.folders]
        index = ThreadIndex.load(cursors.get("threads"))
        queue = list(heapq.merge(*(p.new for p in plans)))
        done = {p.folder: p.last for p in plans}
        if not queue:
            yield Batch(cursors=self._cursors(plans, done, None), stats=stats)
            return
        size = self.cfg.fetch_batch
        for start in range(0, len(queue), size):
            chunk = queue[start : start + size]
            batch = self._read(client, chunk, index)
            for entry in chunk:
                done[entry.folder] = max(done[entry.folder], entry.uid)
            batch.cursors = self._cursors(plans, done, index)
            batch.progress = (min(start + size, len(queue)), len(queue))
            if start == 0:
                batch.stats.add(stats)
            yield batch

    def _plan(self, client: IMAPClient, folder: str, cursor: Any, stats: FetchStats) -> _FolderPlan:
        host = self.cfg.imap_host or ""
        try:
            status = client.folder_status(folder, [b"UIDVALIDITY", b"UIDNEXT"])
        except Exception as exc:
            if "NONEXISTENT" in str(exc).upper() or "DOESN'T EXIST" in str(exc).upper() or "NO SUCH" in str(exc).upper():
                raise NotFound(f"mail folder {folder!r} does not exist on {host} (email.mailbox / "
                               "email.sent_mailbox)", source="email") from None
            raise imap.as_source_error(exc, host, f"STATUS {folder}") from None
        stats.requests += 1
        validity, uidnext = int(status[b"UIDVALIDITY"]), int(status[b"UIDNEXT"])
        known = _valid_cursor(cursor)
        resync = bool(known) and known.get("uidvalidity") != validity
        last = int(known.get("uid", 0)) if known and not resync else 0
        plan = _FolderPlan(folder, validity, last, uidnext, [], resync=resync)
        if resync:
            stats.notes.append(f"{folder}: the server renumbered the folder (UIDVALIDITY changed); re-read it")
        if known and not resync and uidnext <= last + 1:
            return plan
        client.select_folder(folder, readonly=True)
        if last:
            uids = [u for u in client.search(["UID", f"{last + 1}:*"]) if u > last]
        else:
            since = (self.clock() - timedelta(days=self.cfg.history_days)).date()
            uids = client.search(["SINCE", since])
        stats.requests += 2
        for i in range(0, len(uids), LIST_CHUNK):
            part = sorted(uids)[i : i + LIST_CHUNK]
            for uid, data in sorted(client.fetch(part, ["INTERNALDATE"]).items()):
                at = _aware(data.get(b"INTERNALDATE"))
                plan.new.append(_New(at, at, folder, int(uid)))
            stats.requests += 1
        # heapq.merge needs each folder's list sorted by arrival; keep UID order where dates tie or go back.
        _monotonic(plan.new)
        return plan

    def _cursors(self, plans: list[_FolderPlan], done: dict[str, int], index: ThreadIndex | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for plan in plans:
            uid = done[plan.folder]
            if not plan.new:
                uid = max(uid, plan.uidnext - 1)
            out[f"folder:{plan.folder}"] = {"uidvalidity": plan.uidvalidity, "uid": uid}
        if index is not None:
            out["threads"] = index.dump()
        return out

    def _read(self, client: IMAPClient, chunk: list[_New], index: ThreadIndex) -> Batch:
        batch = Batch()
        by_folder: dict[str, list[_New]] = {}
        for entry in chunk:
            by_folder.setdefault(entry.folder, []).append(entry)
        raws: dict[tuple[str, int], bytes] = {}
        for folder, entries in by_folder.items():
            client.select_folder(folder, readonly=True)
            answer = client.fetch([e.uid for e in entries], ["BODY.PEEK[]"])
            batch.stats.requests += 2
            for uid, data in answer.items():
                body = data.get(b"BODY[]")
                if isinstance(body, bytes):
                    raws[(folder, int(uid))] = body
        for entry in chunk:
            raw = raws.get((entry.folder, entry.uid))
            if raw is None:
                continue  # expunged between the listing and the fetch
            batch.stats.fetched += 1
            self._place(parse_mail(raw), entry, index, batch)
        return batch

    def _place(self, mail: ParsedMail, entry: _New, index: ThreadIndex, batch: Batch) -> None:
        team = mail.sender in self.team_addresses
        root = index.find(mail, at=entry.at, team=team, window_days=self.cfg.thread_window_days)
        domain = None if team else mail.sender_domain
        if root is not None:
            index.join(mail, root, at=entry.at, domain=domain)
            if root == mail.message_id:
                batch.items.append(self._item(mail, root, entry))
            else:
                batch.events.append(to_event(mail, root, at=entry.at, folder=entry.folder, team=team))
            return
        if team or mail.never_request or entry.folder != self.cfg.mailbox:
            if mail.never_request:
                batch.stats.notes.append(f"not a request ({mail.never_request}): {mail.sender}")
            return
        root = index.start(mail, at=entry.at, domain=mail.sender_domain)
        batch.items.append(self._item(mail, root, entry))

    def _item(self, mail: ParsedMail, root: str, entry: _New) -> SourceItem:
        return to_item(mail, root, at=entry.at, folder=entry.folder)

    # ------------------------------------------------------------------ IDLE and doctor
    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds in IMAP ``IDLE`` on the inbox for new mail.

        Returns:
            True when the server announced new mail (poll now); False on timeout or when the
            server does not offer ``IDLE`` (then polling alone keeps the queue current).

        Raises:
            SourceError: the connection failed (the next call reconnects).
        """
        host = self.cfg.imap_host or ""
        try:
            if self._idle is None:
                self._idle = imap.connect(self.cfg)
                self._idle.select_folder(self.cfg.mailbox, readonly=True)
            client = self._idle
            if not client.has_capability("IDLE"):
                return False
            client.idle()
            try:
                responses = client.idle_check(timeout=timeout)
            finally:
                client.idle_done()
        except SourceError:
            self._idle = None
            raise
        except Exception as exc:
            idle, self._idle = self._idle, None
            if idle is not None:
                try:
                    idle.shutdown()
                except Exception:
                    pass
            raise imap.as_source_error(exc, host, "IDLE") from None
        return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

    def check(self) -> dict[str, Any]:
        """Log in and look at both folders (``idqueue doctor``).

        Raises:
            AuthError: the login was refused.
            NotFound: a folder does not exist.
            Unavailable: the server cannot be reached.
        """
        cfg = self.cfg
        facts: dict[str, Any] = {
            "login": f"{cfg.login} on {cfg.imap_host}:{cfg.imap_port_or_default()} ({cfg.imap_security})",
        }
        with imap.session(cfg) as client:
            facts["IDLE"] = "yes (instant updates)" if client.has_capability("IDLE") else "no (polling only)"
            for folder in self.folders:
                if not client.folder_exists(folder):
                    raise NotFound(f"mail folder {folder!r} does not exist on {cfg.imap_host} "
                                   "(email.mailbox / email.sent_mailbox)", source="email")
                status = client.folder_status(folder, [b"MESSAGES"])
                facts[folder] = f"{int(status[b'MESSAGES'])} messages"
        return facts


def _valid_cursor(value: Any) -> dict[str, int]:
    """A stored folder cursor ``{uidvalidity, uid}``, or an empty one (read from the start) when unusable."""
    if not isinstance(value, dict):
        return {}
    validity, uid = value.get("uidvalidity"), value.get("uid")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (validity, uid)):
        return {}
    return {"uidvalidity": int(validity), "uid": int(uid)}  # type: ignore[arg-type]


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _monotonic(entries: list[_New]) -> None:
    """Make arrival times non-decreasing in UID order (a later UID never sorts before an earlier one)."""
    latest: datetime | None = None
    for entry in entries:
        if latest is not None and entry.order < latest:
            entry.order = latest
        latest = entry.order

