"""The Slack source: intake-channel messages become requests, thread replies their timeline.

How it polls (a poller never receives edit or delete events, so it re-reads a recent window):

* ``auth.test`` once per source, for our own user/bot id (our own messages are never requests:
  no feedback loop) and the workspace URL used for permalinks.
* Per channel, a *scan* reads ``conversations.history`` newest first from ``oldest`` (first sync:
  ``history_days`` back; later: ``lookback_hours`` back, or further when idqueue was not run for a
  while) following ``response_metadata.next_cursor``. Each page is one :class:`Batch`, and the
  scan's pagination cursor lives in the batch cursor, so a scan cut short by a rate limit resumes
  where it stopped on the next poll (the non-Marketplace profile allows ~1 history call a minute).
* A request whose ``edited.ts``, ``latest_reply`` or ``reply_count`` changed is re-emitted; its
  thread is read with ``conversations.replies`` when the reply fields changed. A request that was
  known inside a *completely read* window and is now absent was deleted → ``deleted_items``.
  Replies that vanished from a completely read thread → ``deleted_events``.
* A thread read that could not happen (rate limit mid-page) is remembered as *pending* in the
  cursor and done first on the next poll.
* The sync engine tells the source (:class:`PollHints`, from the store) which requests are open
  and how urgent they are, which Slack messages open requests link to that were never read, and
  which threads a Socket Mode event named. Named threads are read before the scan; linked
  messages (a permalink in a GitHub issue older than ``history_days``) are read one thread each
  after it. Then every open request's thread is re-read, across channels, most urgent first,
  within the *thread budget* (``slack.thread_checks_per_minute`` × ``ui.poll_interval`` / 60
  ``conversations.replies`` calls a poll, counting the scan's reads): that is how a reply or a
  deletion under a parent older than the window reaches the queue on the next poll. The last
  batch's stats say how many open threads were due, checked and skipped.
* A few threads of requests that are not open are re-read per poll in rotation (the *sweep*),
  with what is left of the budget, so edited replies and late reactions (CSAT ratings on the
  closing message) are eventually seen too.
* A request older than ``history_days`` stays in the cursor (so the sweep still sees its
  thread) while its thread had activity within ``history_days`` or it was not closed or moved
  to the backlog by an idqueue action in its thread; at most ``MAX_OLD_REQUESTS`` per channel,
  the most recently active first.
* Names: a user id that ``users.info`` could not resolve for a transient reason (outage, rate
  limit) is shown as ``unknown user (U…)`` and remembered in the request's cursor entry
  (``u``). Once the name resolves (``NAME_LOOKUPS_PER_POLL`` look-ups a poll, none after the
  first failure), up to ``NAME_REREADS_PER_POLL`` such requests a channel are re-read after the
  scan (best effort, like the sweep), so their item and thread replies are re-sent with the
  real names. Thread digests are taken over the converted events, so a name change alone
  re-sends them.

Cursors: a batch carries only the cursor keys it changed, so its cost does not grow with the
channel: ``channel:<C>`` (scan position, last complete scan, pending threads),
``req:<C>/<ts>`` per known request (a JSON ``null`` deletes one that is forgotten) and
``seen:<C>/<n>`` for the requests the scan in progress met (see :class:`ChannelState`). A
``channel:<C>`` value in the older layout, with every request inside it, is split on the next
poll.

Retries: the SDK's own retry handlers are turned off (``retry_handlers=[]``) and this module
retries by itself, because the SDK handlers sleep real time and cannot be bounded by
``max_wait``. HTTP 429 / ``ratelimited``: sleep ``Retry-After`` (clamped to ≥ 1 s) with the
injected ``sleep`` when it is ≤ ``max_wait``, a bounded number of times, else
:class:`RateLimited`. Connection errors, timeouts and 5xx: bounded exponential backoff, then
:class:`Unavailable`.

The conversion from Slack payloads to :class:`SourceItem` / :class:`TimelineEvent` is done by
pure functions (``message_to_item``, ``reply_to_events``, ``slack_to_text`` …) that the tests run
on recorded payloads.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from idqueue.clock import clock_for
from idqueue.config import Settings
from idqueue.domain.models import (
    SourceKind,
    TimelineEvent,
    slack_id,
)
from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    Batch,
    FetchStats,
    NotFound,
    PollHints,
    RateLimited,
    Source,
    SourceError,
    Unavailable,
)
from idqueue.integrations.decoding import describe_replacements
from idqueue.integrations.slack.api import (
    MAX_RATE_RETRIES,
    MAX_TRANSIENT_RETRIES,
    NON_JSON_PREFIX,
    map_error,
    retry_after,
    web_client,
)
from idqueue.integrations.slack.convert import (
    ACTION_KINDS,
    TS_RE,
    bot_name,
    datetime_to_ts,
    event_uids,
    idqueue_payload,
    int_or_zero,
    message_to_item,
    message_user_ids,
    reply_to_events,
    str_or_none,
    ts_key,
    ts_to_datetime,
)
from idqueue.integrations.slack.cursor import (
    ChannelState,
    Scan,
    closed_in_thread,
    item_digest,
    last_activity,
    thread_digest,
    unresolved_ids,
)
from idqueue.integrations.slack.rules import SlackContext, is_bot_form, is_bot_post, is_request
from idqueue.integrations.slack.threads import (
    URGENCY_WEIGHTS,
    Thread,
    ThreadChanges,
    ThreadPlan,
    add_thread,
)
from idqueue.integrations.slack.users import UserNames
from idqueue.safety import redact

THREAD_BATCH = 25  # thread reads per batch when catching up on pending threads
NAME_LOOKUPS_PER_POLL = 50  # users.info calls spent per poll on names an outage left unresolved
NAME_REREADS_PER_POLL = 50  # requests per channel and poll re-read once their names resolve
MAX_OLD_REQUESTS = 200  # requests older than history_days kept in a channel's cursor

# --------------------------------------------------------------------------- the source


class SlackSource(Source):
    """Polls Slack intake channels (see the module docstring for the algorithm).

    Args:
        settings: configuration (``settings.slack`` and the roster).
        client: a ``slack_sdk.WebClient``; built from settings when omitted. Its SDK retry
            handlers are replaced by this class's own bounded retries.
        clock: the current time (injected for tests; defaults to ``IDQUEUE_NOW`` or UTC now).
        sleep: how to wait before a retry (injected for tests).
        max_wait: longest wait (seconds) honoured in place; longer ones raise
            :class:`RateLimited`.
        timeout: HTTP timeout (seconds, fractions kept) of the client built here.
        sweep_per_poll: threads of requests that are not open (closed, backlogged) re-read
            per poll in rotation, within what is left of the thread budget (0 disables it).
    """

    kind = SourceKind("slack")
    can_write = True
    wants_hints = True

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        timeout: float = 20.0,
        sweep_per_poll: int = 5,
        name: str = "slack",
    ) -> None:
        self.settings = settings
        self.name = name
        if clock is None:
            clock = clock_for(settings)
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self.sweep_per_poll = sweep_per_poll
        if client is None:
            token = settings.slack.token.get_secret_value() if settings.slack.token else None
            client = web_client(token, settings.slack.base_url, timeout=timeout)
        # We retry ourselves (bounded, injected sleep); the SDK's handlers would sleep real time.
        client.retry_handlers = []
        self._client = client
        self._auth: dict[str, Any] | None = None
        self._stats = FetchStats()
        self._names = UserNames()
        self._limited = False
        self.last_headers: dict[str, Any] = {}
        """Headers of the last successful answer (``x-oauth-scopes`` for ``idqueue doctor``)."""
        self._hints: PollHints | None = None
        self._plan = ThreadPlan()
        self._replies_calls = 0

    def prepare(self, hints: PollHints) -> None:
        """Take the store's hints for the next fetch: open requests by urgency, links, push events."""
        self._hints = hints

    def thread_budget(self) -> int:
        """``conversations.replies`` calls one poll may spend (``slack.thread_checks_per_minute``
        scaled by ``ui.poll_interval``; at least one)."""
        per_minute = self.settings.slack.thread_checks_per_minute
        return max(1, int(per_minute * self.settings.ui.poll_interval / 60.0))

    def _budget_left(self) -> int:
        return max(0, self._plan.budget - self._replies_calls)

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, *, wait: bool = True, **params: Any) -> dict[str, Any]:
        """Call a Web API method with bounded retries; return the response body.

        Raises:
            SourceError: mapped from the failure (see the module docstring).
        """
        from slack_sdk.errors import SlackApiError, SlackClientError

        rate_tries = 0
        transient_tries = 0
        params = {k: v for k, v in params.items() if v is not None}
        while True:
            self._stats.requests += 1
            try:
                response = self._client.api_call(method, http_verb="GET", params=params)
                data = response.data
                if not isinstance(data, dict):
                    raise BadPayload(f"Slack {method} answered something that is not JSON", source=self.name)
                self._note_replacements(method, data)
                self.last_headers = dict(getattr(response, "headers", None) or {})
                return data
            except SlackApiError as exc:
                resp = exc.response
                status = int(getattr(resp, "status_code", 0) or 0)
                data = getattr(resp, "data", None)
                error = str(data.get("error") or "") if isinstance(data, dict) else ""
                headers = getattr(resp, "headers", None) or {}
                if status == 429 or error == "ratelimited":
                    delay = retry_after(headers, fallback=float(2 ** rate_tries))
                    self._limited = True
                    if wait and delay <= self.max_wait and rate_tries < MAX_RATE_RETRIES:
                        rate_tries += 1
                        self._sleep(delay)
                        continue
                    until = self._clock() + timedelta(seconds=delay)
                    raise RateLimited(
                        f"Slack rate limit on {method}; retry after {int(delay)} s",
                        until=until, source=self.name,
                    ) from None
                non_json = error.startswith(NON_JSON_PREFIX) or not isinstance(data, dict)
                if status in (401, 403) and (non_json or not error):
                    # A proxy or gateway refusing the token answers without Slack's JSON.
                    raise AuthError(f"Slack refused the token on {method} (HTTP {status})",
                                    source=self.name) from None
                if status >= 500 or (status and status != 200 and non_json):
                    if self._backoff(transient_tries):
                        transient_tries += 1
                        continue
                    raise Unavailable(f"Slack {method} failed with HTTP {status}", source=self.name) from None
                if non_json:
                    raise BadPayload(f"Slack {method} answered malformed JSON", source=self.name,
                                     detail=redact(error[:200])) from None
                raise map_error(method, error, self.name, params) from None
            except SlackClientError as exc:
                raise Unavailable(f"Slack {method} failed: {redact(str(exc))[:200]}", source=self.name) from None
            except json.JSONDecodeError:
                raise BadPayload(f"Slack {method} answered malformed JSON", source=self.name) from None
            except (OSError, http.client.HTTPException) as exc:
                if self._backoff(transient_tries):
                    transient_tries += 1
                    continue
                what = "timed out" if isinstance(exc, TimeoutError) or "timed out" in str(exc) else "unreachable"
                raise Unavailable(
                    f"Slack {method} {what} ({type(exc).__name__})", source=self.name,
                    detail=redact(str(exc))[:300],
                ) from None

    def _backoff(self, tries: int) -> bool:
        """Sleep before transient retry number ``tries`` (1, 2, 4 s …); False when out of tries."""
        if tries >= MAX_TRANSIENT_RETRIES:
            return False
        self._sleep(min(float(2 ** tries), max(1.0, self.max_wait)))
        return True

    # ------------------------------------------------------------------ identity
    def _ensure_auth(self) -> dict[str, Any]:
        if self._auth is None:
            data = self._call("auth.test")
            self._auth = {
                "user_id": data.get("user_id"),
                "bot_id": data.get("bot_id"),
                "url": data.get("url"),
                "team": data.get("team"),
                "user": data.get("user"),
            }
        return self._auth

    def _context(self) -> SlackContext:
        auth = self._ensure_auth()
        ctx = SlackContext.from_settings(
            self.settings,
            workspace_url=auth.get("url") if isinstance(auth.get("url"), str) else None,
            own_ids=[str(auth[k]) for k in ("user_id", "bot_id") if auth.get(k)],
        )
        ctx.users = self._names.people
        return ctx

    def _resolve_users(self, user_ids: Iterable[str]) -> None:
        """Resolve user ids through ``users.info`` (cached); never fails the poll."""
        self._names.resolve(user_ids, lambda uid: self._call("users.info", user=uid))

    def _users_for(self, messages: Iterable[Mapping[str, Any]], ctx: SlackContext) -> list[str]:
        """Resolve the names the messages show; return those user ids (in order, unique)."""
        wanted: list[str] = []
        for m in messages:
            wanted.extend(message_user_ids(m, ctx))
        unique = list(dict.fromkeys(wanted))
        self._resolve_users(unique)
        return unique

    # ------------------------------------------------------------------ fetch
    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        """Yield one batch per history page / group of thread reads, for every channel.

        Per channel: threads left over from the last poll, threads a push event named, the
        history scan, threads an open request links to that were never read, names to re-read.
        Then, over all channels, the open requests' threads most urgent first within the thread
        budget (the last batch's stats say how many were due, checked and skipped), and the
        rotation over the other known threads with what is left.

        A channel that is gone or that the bot is not in raises :class:`NotFound` *after* the
        other channels were polled. Rate limits, auth and availability errors stop the poll
        (batches already yielded stay valid).
        """
        self._stats = FetchStats()
        self._limited = False
        self._replies_calls = 0
        hints, self._hints = self._hints, None  # hints are good for one poll
        self._plan = ThreadPlan.build(hints, self.settings.slack.channels, self.thread_budget())
        self._names.start_poll(cursors.get("users"))
        ctx = self._context()
        missing: list[NotFound] = []
        polled: dict[str, tuple[ChannelState, set[str]]] = {}
        for channel in self.settings.slack.channels:
            state = ChannelState.load(channel, cursors)
            read_now: set[str] = set()
            try:
                yield from self._fetch_channel(channel, state, ctx, read_now)
            except NotFound as exc:
                missing.append(exc)
            else:
                polled[channel] = (state, read_now)
        yield from self._check_open_threads(polled, ctx)
        for channel, (state, read_now) in polled.items():
            yield from self._sweep(channel, state, ctx, read_now)
        if missing:
            if len(missing) == 1:
                raise missing[0]
            raise NotFound("; ".join(e.title for e in missing), source=self.name)

    def _batch(
        self, channel: str, state: ChannelState, batch: Batch, *, progress: tuple[int, int | None] | None = None
    ) -> Batch:
        """Complete a batch: the channel's cursor changes, the users cache if it changed, the stats."""
        return self._batch_of([state], batch, progress=progress)

    def _batch_of(
        self, states: Iterable[ChannelState], batch: Batch, *, progress: tuple[int, int | None] | None = None
    ) -> Batch:
        """Complete a batch that touched these channels (thread reads across channels)."""
        cursors: dict[str, Any] = {}
        for state in states:
            cursors.update(state.cursor_changes())
        users = self._names.take_changes()
        if users is not None:
            cursors["users"] = users
        stats, self._stats = self._stats, FetchStats()
        batch.cursors, batch.stats, batch.progress = cursors, stats, progress
        stats.fetched = len(batch.items) + len(batch.events)
        return batch

    def _fetch_channel(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        # 1. Threads left over from a poll that was cut short.
        yield from self._read_pending(channel, state, ctx, read_now)
        # 2. Threads a push event (Socket Mode) named since the last poll: read at once.
        yield from self._read_first(channel, state, ctx, read_now)
        # 3. The history scan: a scan resumed from an earlier poll is finished first, then a
        #    fresh one reads the current window (so a resumed poll still sees new messages).
        resumed = state.scan is not None
        if state.scan is None:
            state.scan = self._new_scan(state)
        yield from self._scan(channel, state, ctx, read_now)
        if resumed:
            state.scan = self._new_scan(state)
            yield from self._scan(channel, state, ctx, read_now)
        # 4. Messages an open request's other home links to that the scan never met.
        yield from self._read_linked(channel, state, ctx, read_now)
        # 5. Requests still showing names that an earlier users.info failure left unresolved.
        yield from self._reread_names(channel, state, ctx, read_now)

    def _read_first(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Read the threads a push event named (known or open requests only), before the scan."""
        open_here = self._plan.open_in(channel)
        candidates = [
            ts for ts in dict.fromkeys(self._plan.read_first.get(channel, ()))
            if ts not in read_now and (ts in state.requests or ts in open_here)
        ]
        if candidates:
            yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _read_linked(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Read messages an open request links to (a Slack permalink in a GitHub issue) that the
        history scan never met, typically because they are older than ``history_days``.

        Each is one ``conversations.replies`` call within the thread budget; it then is a known
        request like any other. A link to a message that is gone is remembered so it costs no
        call on later polls.
        """
        candidates = [
            ts for ts in dict.fromkeys(self._plan.linked.get(channel, ()))
            if ts not in state.requests and ts not in read_now and ts not in state.unlinked
        ][: self._budget_left()]
        if not candidates:
            return
        batch = Batch()
        for ts in candidates:
            try:
                changes = self._read_thread_changes(channel, ts, None, ctx, wait=False)
            except (RateLimited, Unavailable, BadPayload):
                break  # best effort: the store still lacks it, so the next poll asks again
            read_now.add(ts)
            if changes is None:
                state.unlinked = [*state.unlinked, ts][-MAX_OLD_REQUESTS:]
                continue
            add_thread(batch, channel, state, ts, changes)
        yield self._batch(channel, state, batch)

    def _check_open_threads(self, polled: dict[str, tuple[ChannelState, set[str]]], ctx: SlackContext) -> Iterator[Batch]:
        """Re-check every open request's thread, most urgent first, within the thread budget.

        A poller gets no word of a reply under a parent older than the lookback window, nor of
        such a parent's deletion; this is how both reach the queue on the next poll. When the
        budget cannot cover them all, the ones with the strongest claim go first (seconds since
        their last check × :data:`URGENCY_WEIGHTS` of their class), so urgent threads are
        checked often and none is starved; the last batch's stats say how many were skipped.
        """
        plan = self._plan
        if not plan.hinted:
            return
        due = [(ch, ts) for ch, ts in plan.open if ch in polled]
        now = self._clock().timestamp()
        rank = {key: n for n, key in enumerate(due)}

        def claim(key: tuple[str, str]) -> tuple[float, int]:
            entry = polled[key[0]][0].requests.get(key[1]) or {}
            since = max(0.0, now - float(int_or_zero(entry.get("c"))))
            weight = URGENCY_WEIGHTS[min(plan.urgency.get(key, 5), len(URGENCY_WEIGHTS) - 1)]
            return (-since * weight, rank[key])

        todo = sorted((key for key in due if key[1] not in polled[key[0]][1]), key=claim)
        batch = Batch()
        touched: dict[str, ChannelState] = {}
        reads = 0
        for ch, ts in todo:
            if self._budget_left() <= 0 or self._limited:
                break
            state, read_now = polled[ch]
            try:
                changes = self._read_thread_changes(ch, ts, state.requests.get(ts), ctx, wait=False)
            except (RateLimited, Unavailable):
                break  # counted as skipped; the next poll starts with the strongest claims again
            except BadPayload:
                continue  # counted as skipped; its claim grows until it is tried again
            read_now.add(ts)
            add_thread(batch, ch, state, ts, changes)
            touched[ch] = state
            reads += 1
            if reads % THREAD_BATCH == 0:
                yield self._batch_of(touched.values(), batch)
                batch, touched = Batch(), {}
        checked = sum(1 for ch, ts in due if ts in polled[ch][1])
        batch = self._batch_of(touched.values(), batch)
        batch.stats.threads_due, batch.stats.threads_checked = len(due), checked
        batch.stats.thread_budget = plan.budget
        yield batch

    def _reread_names(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Re-read requests whose unresolved user ids now resolve, so they are re-sent.

        Items are re-sent only when their digest changes, and nothing else re-reads a request
        outside the lookback window or a thread that did not change, so without this a name
        that ``users.info`` failed to resolve once would stay "unknown user (U…)" for good.
        Bounded (``NAME_LOOKUPS_PER_POLL`` look-ups, ``NAME_REREADS_PER_POLL`` thread reads) and
        best effort after the scan, like the sweep: a rate limit here never holds up new
        messages; the rest is re-read on later polls.
        """
        waiting = {ts: unresolved_ids(entry) for ts, entry in state.requests.items() if ts not in read_now}
        waiting = {ts: uids for ts, uids in waiting.items() if uids}
        if not waiting:
            return
        uids = list(dict.fromkeys(uid for ids in waiting.values() for uid in ids))
        self._resolve_users([uid for uid in uids if uid not in self._names.people][:NAME_LOOKUPS_PER_POLL])
        resolved = {uid for uid in uids if self._names.is_known(uid)}
        # Newest first: those are the requests most likely still being worked on.
        candidates = [
            ts for ts in sorted(waiting, key=ts_key, reverse=True)
            if resolved.intersection(waiting[ts])
        ][:NAME_REREADS_PER_POLL]
        yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _new_scan(self, state: ChannelState) -> Scan:
        now = self._clock()
        horizon = now - timedelta(days=self.settings.slack.history_days)
        if state.synced is None:
            oldest = horizon
        else:
            # Re-read the lookback window, or further back when the last complete scan is older
            # (idqueue was not running): nothing between two scans may fall through the gap.
            last = ts_to_datetime(state.synced) - timedelta(minutes=5)
            oldest = min(now - timedelta(hours=self.settings.slack.lookback_hours), last)
        oldest = max(oldest, horizon)
        return Scan(oldest=datetime_to_ts(oldest), start=datetime_to_ts(now))

    def _history_page(self, channel: str, scan: Scan) -> dict[str, Any]:
        try:
            return self._call(
                "conversations.history", channel=channel, oldest=scan.oldest,
                limit=self.settings.slack.page_limit, cursor=scan.next or None,
                include_all_metadata=True,
            )
        except SourceError as exc:
            if scan.next and "invalid_cursor" in exc.title:
                # A stored pagination cursor Slack no longer accepts: restart the scan's pages.
                scan.next = ""
                return self._history_page(channel, scan)
            raise

    def _scan(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        scan = state.scan
        assert scan is not None
        while True:
            data = self._history_page(channel, scan)
            messages = data.get("messages")
            if not isinstance(messages, list):
                raise BadPayload(f"Slack conversations.history for {channel} has no message list",
                                 source=self.name)
            meta = data.get("response_metadata")
            next_cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            next_cursor = next_cursor if isinstance(next_cursor, str) else ""
            if next_cursor and next_cursor == scan.next:
                raise BadPayload(f"Slack conversations.history for {channel} repeats its cursor",
                                 source=self.name)
            batch, error = self._process_page(
                channel, [m for m in messages if isinstance(m, dict)], state, ctx, read_now
            )
            scan.next = next_cursor
            scan.pages += 1
            done = not next_cursor
            if done:
                batch.deleted_items.extend(self._finish_scan(channel, state))
            yield self._batch(channel, state, batch, progress=(scan.pages, None))
            if error is not None:
                raise error
            if done:
                return

    def _finish_scan(self, channel: str, state: ChannelState) -> list[str]:
        """The window was read completely: retire vanished requests, prune old ones."""
        scan = state.scan
        assert scan is not None
        oldest = ts_key(scan.oldest)
        deleted = [ts for ts in state.requests if ts_key(ts) > oldest and not scan.has_seen(ts)]
        horizon = ts_key(datetime_to_ts(self._clock() - timedelta(days=self.settings.slack.history_days)))
        for ts in deleted:
            state.requests.drop(ts)
        self._prune_old(state, horizon, keep=self._plan.open_in(channel))
        state.pending = [p for p in state.pending if p in state.requests]
        state.synced = scan.start
        state.retire_scan()
        return [slack_id(channel, ts) for ts in deleted]

    @staticmethod
    def _prune_old(state: ChannelState, horizon: Decimal, *, keep: set[str] | None = None) -> None:
        """Drop requests older than the history window that no longer need watching.

        The history scan never reads before the window, so a kept old request is only seen
        through the sweep: that is how a long-open request still gets its thread replies.
        Kept: those whose thread was active within the window, or that no idqueue action in
        their thread closed or moved to the backlog (the source cannot see the status that
        GitHub or a reaction gives, so "not closed here" counts as open). Bounded by
        ``MAX_OLD_REQUESTS``, the most recently active first. Requests the store knows are open
        (``keep``) always stay: their threads are re-checked every poll.
        """
        keep = keep or set()
        old = [ts for ts in state.requests if ts_key(ts) < horizon and ts not in keep]
        if not old:
            return
        kept_old = sorted(
            (ts for ts in old
             if last_activity(ts, state.requests[ts]) >= horizon or not closed_in_thread(state.requests[ts])),
            key=lambda ts: (last_activity(ts, state.requests[ts]), ts_key(ts)),
            reverse=True,
        )[:MAX_OLD_REQUESTS]
        kept = set(kept_old)
        for ts in old:
            if ts not in kept:
                state.requests.drop(ts)

    def _process_page(
        self,
        channel: str,
        messages: list[dict[str, Any]],
        state: ChannelState,
        ctx: SlackContext,
        read_now: set[str],
    ) -> tuple[Batch, SourceError | None]:
        scan = state.scan
        assert scan is not None
        requests: list[dict[str, Any]] = []
        refresh: set[str] = set()
        for m in messages:
            ts = m.get("ts")
            if not isinstance(ts, str) or not TS_RE.match(ts):
                continue  # lenient: a message without a usable id cannot be tracked
            thread_ts = m.get("thread_ts")
            if isinstance(thread_ts, str) and thread_ts != ts:
                # A thread_broadcast: stored once, as a reply of its parent.
                if thread_ts in state.requests:
                    refresh.add(thread_ts)
                continue
            if m.get("subtype") == "tombstone":
                continue  # a deleted parent that still has replies: absent → retired
            if ts in state.requests or is_request(m, ctx):
                requests.append(m)
        self._users_for(requests, ctx)
        scan.add_seen(m["ts"] for m in requests)

        batch = Batch()
        error: SourceError | None = None
        for m in requests:
            ts = m["ts"]
            entry = state.requests.get(ts)
            rc = int_or_zero(m.get("reply_count"))
            lr = str_or_none(m.get("latest_reply"))
            edited = m.get("edited")
            e_ts = str_or_none(edited.get("ts")) if isinstance(edited, dict) else None
            thread_changed = (
                ts in refresh
                or (entry is None and rc > 0)
                or (entry is not None and (entry.get("lr") != lr or entry.get("rc") != rc))
            )
            if thread_changed and error is None and ts not in read_now:
                try:
                    changes = self._read_thread_changes(channel, ts, entry, ctx, fallback=m)
                except SourceError as exc:
                    # Keep what this page read; the thread is read first thing next poll.
                    error = exc
                else:
                    read_now.add(ts)
                    add_thread(batch, channel, state, ts, changes)
                    continue
            if thread_changed and ts not in read_now and ts not in state.pending:
                state.pending.append(ts)
            new_entry = dict(entry) if entry else {"rc": 0, "lr": None, "r": {}, "l": [], "c": 0}
            if entry is None:
                new_entry["c"] = int(self._clock().timestamp())
            new_entry["e"] = e_ts
            # Only the parent was converted here: keep what the thread's replies still need.
            unresolved = list(dict.fromkeys([
                *unresolved_ids(new_entry),
                *(uid for uid in message_user_ids(m, ctx) if uid in self._names.transient),
            ]))
            if unresolved:
                new_entry["u"] = unresolved
            else:
                new_entry.pop("u", None)
            item = message_to_item(channel, m, ctx, extra_links=new_entry.get("l") or [])
            digest = item_digest(item)
            if digest != new_entry.get("h"):
                batch.items.append(item)
                new_entry["h"] = digest
            state.requests.put(ts, new_entry)
        return batch, error

    def _read_thread(self, channel: str, ts: str, *, wait: bool = True) -> Thread:
        parent: dict[str, Any] | None = None
        replies: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            try:
                self._replies_calls += 1
                data = self._call(
                    "conversations.replies", wait=wait, channel=channel, ts=ts, cursor=cursor,
                    limit=self.settings.slack.page_limit, include_all_metadata=True,
                )
            except SourceError as exc:
                if "thread_not_found" in exc.title or "message_not_found" in exc.title:
                    return Thread(None, [], missing=True)
                raise
            messages = data.get("messages")
            if not isinstance(messages, list):
                raise BadPayload(f"Slack conversations.replies for {channel} has no message list",
                                 source=self.name)
            for m in messages:
                if not isinstance(m, dict) or not isinstance(m.get("ts"), str):
                    continue
                if m["ts"] == ts:
                    parent = parent or m
                elif m.get("thread_ts") in (None, ts) and all(r["ts"] != m["ts"] for r in replies[-5:]):
                    replies.append(m)
            meta = data.get("response_metadata")
            nxt = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not isinstance(nxt, str) or not nxt or nxt == cursor:
                break
            cursor = nxt
        if parent is not None and parent.get("subtype") == "tombstone":
            return Thread(None, replies, missing=True)
        return Thread(parent, replies)

    def _read_thread_changes(
        self,
        channel: str,
        ts: str,
        entry: dict[str, Any] | None,
        ctx: SlackContext,
        *,
        fallback: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> ThreadChanges | None:
        """Read a request's thread: the item (when it changed), events, deleted event uids.

        Returns None when the request message itself is gone.
        """
        thread = self._read_thread(channel, ts, wait=wait)
        if thread.missing:
            return None
        parent = thread.parent or (dict(fallback) if fallback is not None else None)
        if parent is None:
            return None
        shown = self._users_for([parent, *thread.replies], ctx)
        old = entry or {}
        old_r = old.get("r")
        old_replies: dict[str, str] = old_r if isinstance(old_r, dict) else {}
        events: list[TimelineEvent] = []
        replies_now: dict[str, str] = {}
        links: list[str] = []
        for reply in thread.replies:
            evs = reply_to_events(channel, ts, reply, ctx)
            if not evs:
                continue
            payload = idqueue_payload(reply)
            action = str(payload.get("action") or "") if payload else ""
            replies_now[str(reply["ts"])] = action if action in ACTION_KINDS else ""
            events.extend(evs)
            for link in evs[0].data.get("links", []):
                if link not in links:
                    links.append(link)
        gone: list[str] = []
        for reply_ts, action in old_replies.items():
            new_action = replies_now.get(reply_ts)
            if new_action is None:
                gone.extend(event_uids(channel, reply_ts, action))
            elif action and new_action != action:
                gone.append(f"{slack_id(channel, reply_ts)}:{action}")
        threads_digest = thread_digest(events)
        if threads_digest == old.get("th") and not gone:
            events = []  # nothing changed in the thread: do not rewrite its events
        item = message_to_item(channel, parent, ctx, extra_links=links)
        digest = item_digest(item)
        rc = parent.get("reply_count") if isinstance(parent.get("reply_count"), int) else len(thread.replies)
        edited = parent.get("edited")
        new_entry = {
            "e": edited.get("ts") if isinstance(edited, dict) else None,
            "lr": parent.get("latest_reply") if isinstance(parent.get("latest_reply"), str) else None,
            "rc": rc,
            "r": replies_now,
            "l": links,
            "h": digest,
            "th": threads_digest,
            "c": int(self._clock().timestamp()),
        }
        # The thread was read whole: what is still unresolved is exactly this set.
        unresolved = [uid for uid in shown if uid in self._names.transient]
        if unresolved:
            new_entry["u"] = unresolved
        items = [item] if digest != old.get("h") else []
        return ThreadChanges(items, events, gone, new_entry)

    def _read_pending(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        while state.pending:
            chunk = list(state.pending[:THREAD_BATCH])
            batch = Batch()
            error: SourceError | None = None
            for ts in chunk:
                if ts not in state.requests:
                    state.pending.remove(ts)
                    continue
                try:
                    changes = self._read_thread_changes(channel, ts, state.requests.get(ts), ctx)
                except BadPayload:
                    # A thread Slack keeps answering garbage for must not block the channel:
                    # drop it here, the sweep tries it again later.
                    state.pending.remove(ts)
                    state.requests.put(ts, {**state.requests[ts], "c": 0})
                    continue
                except SourceError as exc:
                    error = exc
                    break
                state.pending.remove(ts)
                read_now.add(ts)
                add_thread(batch, channel, state, ts, changes)
            if batch.items or batch.events or batch.deleted_items or batch.deleted_events or error is None:
                yield self._batch(channel, state, batch)
            if error is not None:
                raise error

    def _sweep(self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str]) -> Iterator[Batch]:
        """Re-read a few known threads in rotation, least recently checked first.

        With hints, only requests that are not open (closed, backlogged: late reactions such as
        CSAT ratings, reopening replies) and within what is left of the thread budget; open ones
        were checked by :meth:`_check_open_threads`.
        """
        if self.sweep_per_poll <= 0 or self._limited:
            return
        limit = self.sweep_per_poll
        skip: set[str] = set()
        if self._plan.hinted:
            limit = min(limit, self._budget_left())
            skip = self._plan.open_in(channel)
        if limit <= 0:
            return
        candidates = sorted(
            (ts for ts in state.requests if ts not in read_now and ts not in skip),
            key=lambda ts: (int(state.requests[ts].get("c") or 0), ts),
        )[:limit]
        yield from self._best_effort_reads(channel, state, ctx, read_now, candidates)

    def _best_effort_reads(
        self, channel: str, state: ChannelState, ctx: SlackContext, read_now: set[str], candidates: list[str]
    ) -> Iterator[Batch]:
        """Read these threads without waiting out rate limits; stop at the first limit or outage."""
        if not candidates:
            return
        batch = Batch()
        for ts in candidates:
            try:
                changes = self._read_thread_changes(channel, ts, state.requests.get(ts), ctx, wait=False)
            except (RateLimited, Unavailable):
                break  # best effort: try again next poll
            except BadPayload:
                # Move it to the back of the sweep's rotation so one bad thread cannot stall it.
                state.requests.put(ts, {**state.requests[ts], "c": int(self._clock().timestamp())})
                continue
            read_now.add(ts)
            add_thread(batch, channel, state, ts, changes)
        yield self._batch(channel, state, batch)

    def _note_replacements(self, method: str, data: dict[str, Any]) -> None:
        """Report bytes the client replaced because they were not UTF-8 (summary and log)."""
        take = getattr(self._client, "take_replacements", None)
        offsets = take() if take is not None else []
        if offsets:
            channel = data.get("channel") if isinstance(data.get("channel"), str) else None
            note = describe_replacements(f"Slack {method}{' ' + channel if channel else ''}", data, offsets)
            logging.getLogger(__name__).warning("%s", note)
            self._stats.notes.append(note)

    # ------------------------------------------------------------------ doctor
    def check(self) -> dict[str, Any]:
        """``auth.test`` and ``conversations.info`` per channel, for ``idqueue doctor``.

        Raises:
            SourceError: the token is bad, Slack is unreachable or rate limited.
        """
        self._auth = None
        auth = self._ensure_auth()
        scopes = next((str(v) for k, v in self.last_headers.items() if str(k).lower() == "x-oauth-scopes"), None)
        channels: dict[str, str] = {}
        for channel in self.settings.slack.channels:
            try:
                info = self._call("conversations.info", channel=channel).get("channel")
            except NotFound as exc:
                channels[channel] = f"error: {exc.title}"
                continue
            except Unavailable as exc:
                if "missing_scope" not in exc.title:
                    raise
                channels[channel] = "not checked (the token lacks channels:read)"
                continue
            if isinstance(info, dict):
                member = "member" if info.get("is_member") else "not a member"
                channels[channel] = f"#{info.get('name') or channel} ({member})"
            else:
                channels[channel] = "no channel info"
        facts: dict[str, Any] = {
            "team": auth.get("team"),
            "user": auth.get("user"),
            "user_id": auth.get("user_id"),
            "bot_id": auth.get("bot_id"),
            "workspace_url": self.settings.slack.workspace_url or auth.get("url"),
            "channels": channels,
            "scopes": None if scopes is None else [s.strip() for s in scopes.split(",") if s.strip()],
        }
        facts.update(self._form_bot_facts(channels))
        return facts

    def form_bots(self, channel: str) -> dict[str, str]:
        """Bots seen posting intake-form messages in the channel's latest history page.

        Returns ``bot_id`` → name for bots that are neither configured intake bots nor idqueue.
        Their form posts are requests already; listing them in ``slack.intake_bot_ids`` makes
        that explicit and keeps their non-form posts too.

        Raises:
            SourceError: the history could not be read.
        """
        ctx = self._context()
        data = self._call("conversations.history", channel=channel, limit=min(100, self.settings.slack.page_limit))
        found: dict[str, str] = {}
        for m in data.get("messages") or []:
            if not isinstance(m, dict) or not is_bot_post(m) or ctx.is_own(m) or ctx.is_intake_bot(m):
                continue
            bot = m.get("bot_id")
            if isinstance(bot, str) and bot and is_bot_form(m):
                found.setdefault(bot, bot_name(m))
        return found

    def _form_bot_facts(self, channels: Mapping[str, str]) -> dict[str, str]:
        """``form bots`` per channel and a ``hint`` with the config line, for ``idqueue doctor``."""
        seen: dict[str, str] = {}
        lines: list[str] = []
        for channel, status in channels.items():
            if status.startswith("error"):
                continue
            try:
                bots = self.form_bots(channel)
            except SourceError as exc:
                lines.append(f"{channel}: not checked ({exc.title})")
                continue
            if bots:
                lines.append(f"{channel}: " + ", ".join(f"{name} ({bot})" for bot, name in bots.items()))
                seen.update(bots)
        if not lines:
            return {}
        facts = {"form bots": "; ".join(lines)}
        if seen:
            ids = json.dumps([*self.settings.slack.intake_bot_ids, *seen])
            facts["hint"] = (
                f"their form posts count already; to list them, set intake_bot_ids = {ids} in [slack] "
                f"(or IDQUEUE_SLACK__INTAKE_BOT_IDS='{ids}')"
            )
        return facts

    # ------------------------------------------------------------------ writes
    def apply(self, action: Any) -> Any:
        """Carry out a write (thread reply, reaction).

        Writes go through the outbox and :mod:`idqueue.integrations.slack.writer`; the read
        source does not write.
        """
        raise NotImplementedError("Slack writes go through the outbox's Slack writer")

    def close(self) -> None:
        """Nothing to release: the WebClient holds no open connections between calls."""

