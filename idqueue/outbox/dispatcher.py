"""The dispatcher: sends queued actions, in order per request, exactly once.

One :meth:`Dispatcher.run_once` claims the next action that may go (see
:meth:`~idqueue.outbox.store.OutboxStore.claim`), sends it through its target's writer, records
the outcome, and repeats until nothing is due. Writes are serialized and throttled (about one a
second: GitHub's content-creation limit is 80 a minute, Slack's ``chat.postMessage`` about one a
second per channel).

Outcomes:

* sent → ``sent``, and the local store is updated at once (see below);
* rate limited → back to ``queued`` with ``next_attempt_at`` = the limit's reset /
  ``Retry-After`` (at least one second);
* 5xx, timeouts, dropped connections, garbled answers → ``queued`` with exponential backoff
  (after a timeout: at least the in-flight horizon, counted from the timeout, doubling with each
  further timeout); after ``max_attempts`` → ``failed`` (rate limits do not count);
* 401/403/404/422 and conflicts → ``needs_attention`` with the reason; later actions of the same
  request wait until the user retries or drops it.

Exactly once across crashes: the attempt is counted (and committed) *before* the request is
sent, so a process that dies anywhere in between leaves an action whose next attempt knows that
the destination may already have it; the dispatcher then asks the writer to look for the action
upstream (:meth:`Writer.reconcile`: GitHub comment marker, Slack message metadata, marker in a
created issue, among what was written since the action's first attempt) before writing again.

Exactly once across pauses (a stopped process, a long GC pause, a closed laptop lid): every claim
carries a fencing token. While an action is being sent a heartbeat renews the lease, and
immediately before every write (:func:`~idqueue.outbox.models.before_write`) and before recording
the dispatcher re-checks the token by compare-and-set; a sender whose action was taken over
stops (:class:`~idqueue.outbox.models.LeaseLost`) without writing or recording.

Exactly once across late writes: a write that timed out may still be applied by the server. The
fence check marks the action *in flight* until ``request_timeout + inflight_horizon``; nobody
takes it over or retries it before then, and a timeout puts the next attempt an in-flight
horizon after the moment it timed out (doubling on each further timeout), followed by the
upstream look-up.

Local store: after a successful send the dispatcher applies the known effect to the stored
source item (assignees, labels, state from GitHub's answer) and adds the posted comment or
thread reply as a timeline event with the same uid the read sources will use, then
re-assembles the request. The next poll overwrites it with the source's own view.

Testing hooks: ``IDQUEUE_OUTBOX_CRASH_AT=point[:kind[:target]]`` makes the process kill itself
(``SIGKILL``) at ``claimed`` (before the request), ``sent`` (the destination has it, nothing is
recorded) or ``recorded`` (after recording), for the crash tests. ``IDQUEUE_OUTBOX_PAUSE_AT``
(same syntax, points ``claimed``, ``fenced``, ``sent``) makes it stop itself (``SIGSTOP``) once,
for the pause tests, which resume it with ``SIGCONT``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from idqueue.clock import Clock, clock_for
from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.base import RateLimited, SourceError
from idqueue.integrations.planning import Mirror
from idqueue.integrations.registry import rulebook
from idqueue.outbox.models import (
    LINK_PLACEHOLDER,
    Action,
    ActionState,
    ConflictError,
    LeaseLost,
    TimedOut,
    before_write,
    fenced,
)
from idqueue.outbox.store import OutboxStore
from idqueue.safety import one_line, redact
from idqueue.store.db import Store, open_store

__all__ = ["DispatchReport", "Dispatcher", "Writer", "build_writers"]

log = logging.getLogger(__name__)

CRASH_ENV = "IDQUEUE_OUTBOX_CRASH_AT"
PAUSE_ENV = "IDQUEUE_OUTBOX_PAUSE_AT"
RECONCILE_MARGIN = timedelta(minutes=10)
"""The upstream look-up starts this long before the action's first attempt: it absorbs clock
skew between this machine and the destination's servers."""
MAX_INFLIGHT_WAIT = 3600.0
"""The longest wait after repeated timeouts (the in-flight horizon doubles up to this)."""
FENCE_PAUSE_FRACTION = 0.25
"""A fence check that took longer than this fraction of the lease (the process was paused in
the middle of it) is done again before writing."""
class Writer(Protocol):
    """Carries actions to one destination (``github``, ``slack``; later e-mail, Trello, Jira).

    What a writer must do for "exactly once" (the dispatcher does the rest: claims, fencing,
    heartbeats, in-flight horizons, when to look upstream):

    * carry the action id to the destination with every non-idempotent write (a hidden marker,
      message metadata, a custom field), so :meth:`reconcile` can find it;
    * call :func:`~idqueue.outbox.models.before_write` immediately before every request that
      changes something upstream, and let :class:`~idqueue.outbox.models.LeaseLost` propagate;
    * map a request timeout to :class:`~idqueue.outbox.models.TimedOut` (the write may still
      land), and never let an HTTP library retry a write on its own.
    """

    target: str

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        """Write one action; return what the destination answered.

        Args:
            action: the action.
            maybe_sent: a previous attempt may have reached the destination (the dispatcher has
                already looked for it with :meth:`reconcile` and not found it); state checks may
                accept a half-done earlier attempt of this action.

        Raises:
            SourceError: transient (retried) or permanent (``needs_attention``); ConflictError.
        """

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        """Look upstream for this action by its marker, among what was written since ``since``.

        Called before any resend of an action an earlier attempt may have written. The look-up
        must see every candidate written at or after ``since`` (filter by time upstream, read
        newest first), not a fixed number of the oldest.

        Returns:
            The result to record (as :meth:`send` would return it) when the action is already
            there; None when it is not, or for a kind that is safe to repeat.
        """

    def close(self) -> None:
        """Release clients."""


@dataclass
class DispatchReport:
    """What one :meth:`Dispatcher.run_once` did.

    Attributes:
        sent: actions that reached their destination.
        retrying: actions put back in the queue for later (rate limit, outage).
        failed: actions that ran out of attempts.
        needs_attention: actions stopped by a permanent error or a conflict.
        request_ids: requests whose actions changed (the TUI refreshes those rows).
        blocked: human reasons why some actions could not be tried (e.g. no token).
        next_due: when the earliest waiting action may be tried again.
    """

    sent: list[Action] = field(default_factory=list)
    retrying: list[Action] = field(default_factory=list)
    failed: list[Action] = field(default_factory=list)
    needs_attention: list[Action] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)
    blocked: list[str] = field(default_factory=list)
    next_due: datetime | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Counts per outcome."""
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed),
                "needs_attention": len(self.needs_attention)}

    @property
    def touched(self) -> list[str]:
        """``request_ids`` sorted."""
        return sorted(self.request_ids)

    def merge(self, other: DispatchReport) -> None:
        """Accumulate another report (later outcomes of the same action replace earlier ones)."""
        for name in ("sent", "retrying", "failed", "needs_attention"):
            mine: list[Action] = getattr(self, name)
            for action in getattr(other, name):
                for bucket in ("sent", "retrying", "failed", "needs_attention"):
                    lst: list[Action] = getattr(self, bucket)
                    lst[:] = [a for a in lst if a.id != action.id]
                mine.append(action)
        self.request_ids |= other.request_ids
        self.blocked = list(dict.fromkeys([*self.blocked, *other.blocked]))
        self.next_due = other.next_due

    def summary(self) -> str:
        """One line, e.g. ``sent 3, retrying 1, needs attention 0, failed 0``."""
        c = self.counts
        return (f"sent {c['sent']}, retrying {c['retrying']}, needs attention {c['needs_attention']}, "
                f"failed {c['failed']}")


def build_writers(settings: Settings, *, clock: Clock | None = None, timeout: float | None = None) -> dict[str, Writer]:
    """Writers for the destinations whose integration the settings let send (a token).

    ``timeout`` defaults to ``outbox.request_timeout``.
    """
    from idqueue.integrations import registry

    timeout = settings.outbox.request_timeout if timeout is None else timeout
    return {
        integration.name: integration.build_writer(settings, clock=clock, timeout=timeout)
        for integration in registry.writable(settings)
    }


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def owner_dead(owner: str) -> bool:
    """Whether the process holding a lease is known to be gone (same host, pid not running)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        # Another dispatcher in this very process is alive by definition; if its thread died,
        # the lease expiry still frees the action.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


_paused_once: set[str] = set()


def _hook_wants(spec: str | None, point: str, action: Action) -> bool:
    if not spec:
        return False
    want, _, rest = spec.partition(":")
    kind, _, target = rest.partition(":")
    return want == point and (not kind or kind == action.kind.value) and (not target or target == action.target)


def _crash_point(point: str, action: Action) -> None:
    """The crash- and pause-test hooks (see the module docstring)."""
    if _hook_wants(os.environ.get(CRASH_ENV), point, action):
        os.kill(os.getpid(), signal.SIGKILL)
    if point not in _paused_once and _hook_wants(os.environ.get(PAUSE_ENV), point, action):
        _paused_once.add(point)
        os.kill(os.getpid(), signal.SIGSTOP)


def _elapsed_clock() -> float:
    """Seconds on a clock that keeps counting while the process is stopped or the machine sleeps."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


class _Heartbeat:
    """Renews a claim's lease every third of the lease while its action is being sent.

    A paused process pauses its heartbeat too, so its lease runs out and another sender may take
    the action over; ``lost`` tells the paused one, once it resumes, that its claim is gone.
    """

    def __init__(self, dispatcher: Dispatcher, action: Action) -> None:
        self._d = dispatcher
        self._action = action
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"outbox-lease-{action.id[:8]}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        d, a = self._d, self._action
        interval = max(0.05, d.lease_seconds / 3)
        try:
            while not self._stop.wait(interval):
                if not d.outbox.fence(a.id, d.owner, a.fence, now=d.clock(), lease_seconds=d.lease_seconds):
                    self.lost = True
                    return
        except Exception:  # a locked or vanished database: the fence checks will tell
            log.warning("outbox: could not renew the lease on %s", a.id, exc_info=True)
        finally:
            d.store.close()  # this thread's connection


class Dispatcher:
    """Sends queued outbox actions.

    Args:
        store: the open store (several processes may share it).
        settings: configuration (writers are built from its tokens unless given).
        writers: target → writer (tests inject writers bound to the emulators).
        clock: the clock for leases, backoff and bookkeeping.
        sleep: how to wait between writes (the throttle); tests pass a no-op.
        throttle: seconds between two writes.
        lease_seconds: how long a claim holds without renewal (default ``outbox.lease_seconds``);
            a crashed owner on this host is detected sooner.
        max_attempts: transient failures before an action is ``failed``.
        request_timeout: the writers' HTTP timeout (default ``outbox.request_timeout``).
        inflight_horizon: how long a timed-out write may still be applied upstream (default
            ``outbox.inflight_horizon``).
        assembler_factory: ``(settings, now) -> assembler`` for the local-store update
            (default: :func:`idqueue.domain.assemble.make_assembler`).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        writers: dict[str, Writer] | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle: float = 1.0,
        lease_seconds: float | None = None,
        max_attempts: int = 8,
        assembler_factory: Callable[[Settings, datetime], Any] | None = None,
        request_timeout: float | None = None,
        inflight_horizon: float | None = None,
    ) -> None:
        cfg = settings.outbox
        self.store = store
        self.settings = settings
        self.clock: Clock = clock or clock_for(settings)
        self.sleep = sleep
        self.throttle = throttle
        self.lease_seconds = cfg.lease_seconds if lease_seconds is None else lease_seconds
        self.request_timeout = cfg.request_timeout if request_timeout is None else request_timeout
        self.inflight_horizon = cfg.inflight_horizon if inflight_horizon is None else inflight_horizon
        self.max_attempts = max_attempts
        self.outbox = OutboxStore(store)
        self.owner = _owner_id()
        self._writers = writers
        self._assembler_factory = assembler_factory
        self._wrote = False
        self._fenced = False
        self._bound = False

        self.wall: Clock = lambda: datetime.now(UTC)
        """The real time, for undo holds (``clock`` may be frozen; tests move this one)."""

    @property
    def writers(self) -> dict[str, Writer]:
        """The writers (built from the settings on first use)."""
        if self._writers is None:
            self._writers = build_writers(self.settings, clock=self.clock, timeout=self.request_timeout)
        if not self._bound:
            # A writer whose "upstream" is idqueue's own database (an email request's state) gets this store.
            for writer in self._writers.values():
                bind = getattr(writer, "bind_store", None)
                if bind is not None:
                    bind(self.store)
            self._bound = True
        return self._writers

    def close(self) -> None:
        """Release the writers' clients."""
        for writer in (self._writers or {}).values():
            writer.close()

    # ------------------------------------------------------------------ the loop
    def run_once(self, *, max_actions: int | None = None) -> DispatchReport:
        """Send every action that is due now, in order per request.

        Args:
            max_actions: stop after this many attempts (None: until nothing is due).

        Returns:
            The outcomes and the request ids touched.
        """
        report = DispatchReport()
        targets = set(self.writers)
        tried = 0
        while max_actions is None or tried < max_actions:
            claim = self.outbox.claim(
                self.owner, now=self.clock(), lease_seconds=self.lease_seconds, targets=targets,
                owner_dead=owner_dead, wall=self.wall(),
            )
            if claim is None:
                break
            tried += 1
            if self._wrote and self.throttle > 0:
                self.sleep(self.throttle)
            self._dispatch(claim.action, recovered=claim.recovered, report=report)
        unconfigured = {a.target for a in self.outbox.select(states=[ActionState.QUEUED])} - targets
        for target in sorted(unconfigured):
            report.blocked.append(f"{target} writes are not configured (no {target} token): actions wait")
        report.next_due = self.outbox.next_due()
        return report

    def _dispatch(self, action: Action, *, recovered: bool, report: DispatchReport) -> None:
        report.request_ids.add(action.request_id)
        _crash_point("claimed", action)
        writer = self.writers[action.target]
        # The attempt was counted before sending: anything above one means an earlier attempt
        # (possibly by a process that died or was paused) may have reached the destination.
        maybe_sent = recovered or action.attempts > 1
        self._fenced = False
        try:
            with _Heartbeat(self, action) as beat, fenced(lambda: self._fence(action, beat)):
                result = self._attempt(writer, action, maybe_sent)
        except LeaseLost as exc:
            self._lease_lost(action, str(exc))
            return
        except ConflictError as exc:
            self._stop(action, ActionState.NEEDS_ATTENTION, f"conflict: {exc.title}", report)
            return
        except SourceError as exc:
            self._failed(action, exc, report)
            return
        except Exception as exc:
            log.exception("outbox: unexpected error sending %s", action.id)
            self._stop(action, ActionState.NEEDS_ATTENTION,
                       f"internal error: {type(exc).__name__}: {one_line(redact(str(exc)), 200)}", report)
            return
        if self._fenced and not self.outbox.landed(action.id, self.owner, action.fence):
            self._lease_lost(action, "taken over while the write was in flight")
            return
        _crash_point("sent", action)
        detail = "already there (reconciled)" if result.get("reconciled") else ""
        if self.outbox.mark_sent(action.id, self.owner, now=self.clock(), result=result, detail=detail,
                                 token=action.fence):
            action.state, action.result, action.sent_at = ActionState.SENT, result, self.clock()
            report.sent.append(action)
            _crash_point("recorded", action)
            self._apply_locally(action, result)
        else:
            log.warning("outbox: lost the lease on %s; the new owner records it", action.id)

    def _attempt(self, writer: Writer, action: Action, maybe_sent: bool) -> dict[str, Any]:
        """Look for an earlier attempt upstream when there may be one, else send."""
        prepared = self._prepare(action)
        self._wrote = True
        if maybe_sent:
            reconcile = getattr(writer, "reconcile", None)
            if reconcile is not None:
                since = (action.first_attempt_at or action.created_at) - RECONCILE_MARGIN
                found = reconcile(prepared, since=since)
                if found is not None:
                    return {**found, "reconciled": True}
        before_write()
        return writer.send(prepared, maybe_sent=maybe_sent)

    def _fence(self, action: Action, beat: _Heartbeat) -> None:
        """The check before a write: the claim is still ours (compare-and-set on the fencing token).

        Marks the action in flight until the write's timeout plus the in-flight horizon. When the
        check itself was interrupted by a pause longer than a quarter of the lease, it is done
        again: a takeover during that pause makes the second check fail.

        Raises:
            LeaseLost: another sender took the action over.
        """
        for _ in range(3):
            started = _elapsed_clock()
            now = self.clock()
            until = now + timedelta(seconds=self.request_timeout + self.inflight_horizon)
            if beat.lost or not self.outbox.fence(action.id, self.owner, action.fence, now=now,
                                                  lease_seconds=self.lease_seconds, inflight_until=until):
                raise LeaseLost(f"action {action.id} was taken over by another sender")
            self._fenced = True
            _crash_point("fenced", action)
            if _elapsed_clock() - started < self.lease_seconds * FENCE_PAUSE_FRACTION:
                return
        raise LeaseLost(f"action {action.id}: the sender keeps being paused at its fence check")

    def _lease_lost(self, action: Action, why: str) -> None:
        log.warning("outbox: %s; not writing or recording it here (the new owner does)", why)
        self.outbox.note(action.id, now=self.clock(), outcome="lease-lost", detail=one_line(why, 200))

    def _prepare(self, action: Action) -> Action:
        """Fill in what was unknown when the action was queued (the new backlog issue's URL, the
        thread a reply goes under)."""
        action = self._thread_from(action)
        link_from = action.params.get("link_from")
        if not link_from or not action.text or LINK_PLACEHOLDER not in action.text:
            return action
        source = self.outbox.get(str(link_from))
        url = source.result.get("url") if source is not None else None
        if source is None or source.state is not ActionState.SENT or not url:
            raise _MissingLink(f"the backlog item this message links to was not created (action {link_from})")
        text = action.text.replace(LINK_PLACEHOLDER, str(url).replace("|", "%7C").replace(">", "%3E"))
        return dataclasses.replace(action, text=text)

    def _thread_from(self, action: Action) -> Action:
        """A reply whose thread is the message of an earlier action (``params.thread_from``) goes
        under that message once it is sent; when that action was dropped, the reply is posted on
        its own (top level). Actions of one request are sent in order, so the earlier one is
        sent or dropped by now."""
        parent_id = action.params.get("thread_from")
        if not parent_id or action.params.get("thread_ts"):
            return action
        parent = self.outbox.get(str(parent_id))
        ts = parent.result.get("ts") if parent is not None and parent.state is ActionState.SENT else None
        if parent is not None and parent.state is not ActionState.DROPPED and not ts:
            raise _MissingLink(f"the message this one replies to was not posted (action {parent_id})")
        return dataclasses.replace(action, params={**action.params, "thread_ts": ts})

    def _failed(self, action: Action, exc: SourceError, report: DispatchReport) -> None:
        now = self.clock()  # measured from the failure, not from the request's start
        title = one_line(redact(str(exc.title)), 300)
        timed_out = isinstance(exc, TimedOut)
        inflight_until: datetime | None = None
        timeouts = 0
        if timed_out:
            # The write may still land: nothing happens before the horizon has passed, and the
            # horizon doubles with each further timeout of this action.
            timeouts = self.outbox.timeouts(action.id) + 1
            wait = min(MAX_INFLIGHT_WAIT, self.inflight_horizon * (2 ** (timeouts - 1)))
            inflight_until = now + timedelta(seconds=wait)
        if isinstance(exc, _MissingLink) or exc.permanent:
            self._stop(action, ActionState.NEEDS_ATTENTION, title, report)
            return
        if isinstance(exc, RateLimited):
            # A rate limit is a wait, not a failure: it does not use up the attempts.
            next_at = max(exc.until, now + timedelta(seconds=1))
        else:
            failures = self.outbox.failures(action.id) + 1
            if failures >= self.max_attempts:
                self._stop(action, ActionState.FAILED, f"gave up after {failures} attempts: {title}", report,
                           inflight_until=inflight_until)
                return
            backoff = min(600.0, 2.0 * (2 ** max(0, failures - 1)))
            next_at = max(now + timedelta(seconds=backoff), inflight_until or now)
        limited = isinstance(exc, RateLimited)
        if self.outbox.reschedule(action.id, self.owner, now=now, next_at=next_at, error=title,
                                  rate_limited=limited, token=action.fence, inflight_until=inflight_until,
                                  timeouts=timeouts):
            action.state, action.last_error, action.next_attempt_at = ActionState.QUEUED, title, next_at
            report.retrying.append(action)

    def _stop(self, action: Action, state: ActionState, error: str, report: DispatchReport, *,
              inflight_until: datetime | None = None) -> None:
        if self.outbox.give_up(action.id, self.owner, now=self.clock(), state=state, error=error, token=action.fence,
                               inflight_until=inflight_until):
            action.state, action.last_error = state, error
            (report.failed if state is ActionState.FAILED else report.needs_attention).append(action)

    # ------------------------------------------------------------------ local store
    def _apply_locally(self, action: Action, result: dict[str, Any]) -> None:
        """Mirror a sent action in the local store right away (best effort): its target's
        planner knows what the action changed (:meth:`~idqueue.integrations.planning.HomePlanner.mirror`)."""
        try:
            integration = registry.find(action.target)
            planner = integration.get_planner() if integration is not None else None
            if planner is not None:
                now = self.clock()
                planner.mirror(action, result, Mirror(store=self.store, settings=self.settings, now=now,
                                                      assembler=self._assembler(now)))
        except Exception:
            log.warning("outbox: could not update the local store after %s", action.id, exc_info=True)

    def _assembler(self, now: datetime) -> Any:
        if self._assembler_factory is not None:
            return self._assembler_factory(self.settings, now)
        from idqueue.domain.assemble import make_assembler

        return make_assembler(self.settings, now, rules=rulebook(self.settings))


class _MissingLink(SourceError):
    kind = "missing_link"
    permanent = True


# --------------------------------------------------------------------------- subprocess entry


def main(argv: list[str] | None = None) -> int:
    """``python -m idqueue.outbox.dispatcher``: send what is due until nothing is (crash tests, cron).

    Settings come from the environment / config file like every idqueue command. Exit code 0
    when nothing is left waiting for the user, 1 otherwise.
    """
    import argparse

    from idqueue.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m idqueue.outbox.dispatcher")
    parser.add_argument("--throttle", type=float, default=1.0, help="seconds between writes")
    parser.add_argument("--timeout", type=float, default=None,
                        help="HTTP timeout in seconds (default: outbox.request_timeout)")
    parser.add_argument("--rounds", type=int, default=1, help="run_once rounds (waiting for retries between)")
    parser.add_argument("--max-wait", type=float, default=5.0, help="longest wait for a retry between rounds")
    args = parser.parse_args(argv)
    settings = load_settings()
    store = open_store(settings)
    clock = clock_for(settings)
    dispatcher = Dispatcher(store, settings, writers=build_writers(settings, clock=clock, timeout=args.timeout),
                            clock=clock, throttle=args.throttle, request_timeout=args.timeout)
    total = DispatchReport()
    for _ in range(max(1, args.rounds)):
        total.merge(dispatcher.run_once())
        due = total.next_due
        if due is None:
            break
        wait = (due - clock()).total_seconds()
        if wait > args.max_wait:
            break
        time.sleep(max(0.0, wait))
    dispatcher.close()
    print(total.summary())
    return 0 if not (total.needs_attention or total.failed) else 1


if __name__ == "__main__":  # pragma: no cover - exercised by the crash tests in a subprocess
    raise SystemExit(main())
