"""Action commands: assign, take, reply, pending, backlog, close, reopen, priority, snooze, outbox.

Each verb plans its steps, queues them in the outbox and sends them right away (a short,
bounded dispatch loop), then prints what happened to each step. ``--dry-run`` prints the exact
text per destination and changes nothing. Actions that cannot be sent now stay in the outbox:
``idqueue outbox`` lists them, ``--send`` tries again, ``--retry``/``--drop`` decide.

The CLI does not hold actions for undo (the TUI does): it has printed the plan, ``--dry-run``
previews and ``--no-send`` queues without sending. A verb that would change nothing says so and
exits 0.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from idqueue.commands.base import CliError, Context, pass_ctx
from idqueue.commands.output import fail_usage, format_time
from idqueue.config import TEAM_CLIENT_REFUSAL, team_client
from idqueue.domain.models import iso
from idqueue.safety import one_line, sanitize_terminal

if TYPE_CHECKING:  # keeps start-up light: the outbox is imported when a command runs
    from idqueue.outbox.dispatcher import DispatchReport
    from idqueue.outbox.models import Action, Step
    from idqueue.outbox.service import Actions

THROTTLE_ENV = "IDQUEUE_OUTBOX_THROTTLE"
"""Seconds between two writes (default 1; tests set 0)."""
WAIT_BUDGET = 15.0
"""How long a command waits for retries (rate limits, outages) before leaving them queued."""

_MARK = {"sent": "✓ sent", "queued": "… queued", "sending": "… sending", "failed": "✗ failed",
         "needs_attention": "✗ needs attention", "dropped": "- dropped"}


def _actions(ctx: Context) -> Actions:
    from idqueue.clock import clock_for
    from idqueue.outbox.service import Actions

    return Actions(ctx.store, ctx.settings, clock=clock_for(ctx.settings))


def _throttle() -> float:
    try:
        return max(0.0, float(os.environ.get(THROTTLE_ENV, "1")))
    except ValueError:
        return 1.0


def _safe(text: str, width: int | None = None) -> str:
    return one_line(text, width)


def _print_header(ctx: Context, request_id: str) -> str:
    request = ctx.store.get_request(request_id)
    if request is None:
        raise CliError(f"no request {request_id!r} (try `idqueue list`)")
    click.echo(f"{request.key}  {request.id}  {_safe(request.title, 70)}")
    return request.id


def _print_steps(steps: Sequence[Step], *, dry_run: bool) -> None:
    if not steps:
        click.echo("  nothing to send")
        return
    click.echo("Would do:" if dry_run else "Plan:")
    for n, step in enumerate(steps, 1):
        click.echo(f"  {n}. {_safe(step.summary, 160)}")
        if step.text is not None and dry_run:
            from idqueue.outbox.service import target_label

            where = target_label(step.target)
            click.echo(f"     text for {where}:")
            for line in sanitize_terminal(step.text).rstrip("\n").split("\n"):
                click.echo(f"     │ {line}")
        if step.reassign_from:
            click.echo(f"     note: {_safe(step.reassign_from, 80)} has it now; this reassigns it")
        if step.missing:
            click.echo(f"     missing values: {', '.join(step.missing)}")
        for match in step.pii:
            click.echo(f"     warning: looks like personal data ({match.kind}): {_safe(match.text, 60)}")


def _confirm_reassign(steps: Sequence[Step]) -> None:
    """Ask before taking a request from someone else, like the TUI (``--yes`` skips this)."""
    holder = next((s.reassign_from for s in steps if s.reassign_from), None)
    if holder is None:
        return
    question = f"{_safe(holder, 80)} has this request. Reassign it?"
    if not sys.stdin.isatty():
        raise CliError(f"{_safe(holder, 80)} has this request: pass --yes to reassign it")
    if not click.confirm(question, default=False):
        raise CliError("not reassigned")


def _check_pii(steps: Sequence[Step], yes: bool) -> None:
    """Refuse to post what looks like personal data where it may be public (``--yes`` sends anyway)."""
    from idqueue.integrations import registry
    from idqueue.outbox.service import planner_of

    hits = [(s, m) for s in steps if (p := planner_of(s.target)) is not None and p.public for m in s.pii]
    if hits and not yes:
        kinds = ", ".join(sorted({m.kind for _, m in hits}))
        integration = registry.get(hits[0][0].target)
        raise CliError(
            f"the {integration.display} text looks like it contains personal data ({kinds}); "
            f"{integration.home_noun}s may be public. Check it with --dry-run, then pass --yes to send anyway"
        )


class _TargetType(click.ParamType[str]):
    """``--target``: ``auto``, a writable integration's name, or ``all`` (``both``), checked
    against the registry when the command runs (not when the CLI starts)."""

    name = "target"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from idqueue.outbox.service import reply_targets

        text = str(value).strip().lower()
        choices = reply_targets()
        if text not in choices:
            self.fail(f"{value!r} is not one of {', '.join(choices)}", param, ctx)
        return text

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return "[auto|<system>|all]"


def _run(
    ctx: Context,
    request_id: str,
    plan: Callable[[Actions], list[Step]],
    enqueue: Callable[[Actions], list[Action]],
    *,
    dry_run: bool,
    no_send: bool,
    yes: bool = False,
    reassign_ok: bool | None = None,
) -> None:
    """The shared body of every verb: plan, print, queue, send, report.

    ``reassign_ok`` (assign, take): False asks before taking a request from someone else (or
    refuses without a terminal: pass ``--yes``); True reassigns without asking.
    """
    from idqueue.outbox.models import ActionError, NothingToDo

    actions = _actions(ctx)
    _print_header(ctx, request_id)
    try:
        steps = plan(actions)
    except NothingToDo as exc:
        # Not an error: e.g. taking a request that is already yours.
        click.echo(f"  {_safe(str(exc), 200)}")
        return
    except ActionError as exc:
        raise CliError(str(exc)) from None
    _print_steps(steps, dry_run=dry_run)
    if dry_run:
        missing = sorted({m for s in steps for m in s.missing})
        if missing:
            raise CliError(f"cannot be sent: no value for {', '.join(missing)} (pass --var name=value)")
        return
    if reassign_ok is False:
        _confirm_reassign(steps)
    _check_pii(steps, yes)
    try:
        queued = enqueue(actions)
    except ActionError as exc:
        raise CliError(str(exc)) from None
    if not queued:
        click.echo("Nothing queued.")
        return
    click.echo(f"Queued {len(queued)} action{'s' if len(queued) != 1 else ''} (group {queued[0].group_id}).")
    if no_send:
        click.echo("Not sent (--no-send): `idqueue outbox --send` sends them.")
        return
    _send_and_report(ctx, actions, [a.id for a in queued])


def _send_and_report(ctx: Context, actions: Actions, ids: list[str]) -> None:
    if team_client(ctx.settings):
        # The team service sends the shared outbox; a client that sent too would race it.
        click.echo("Team mode: the team service (`idqueue serve`) sends it; `idqueue outbox` shows it.")
        return
    report = _dispatch(ctx, watch=set(ids))
    for reason in report.blocked:
        click.echo(f"note: {reason}")
    bad = False
    for action_id in ids:
        action = actions.outbox.get(action_id)
        if action is None:
            continue
        bad |= _print_action(action)
    if bad:
        sys.exit(1)


def _print_action(action: Action, *, show_id: bool = True) -> bool:
    """One line per action; returns True when it needs the user."""
    mark = _MARK.get(action.state.value, action.state.value)
    line = f"  {mark:<18} {_safe(action.summary, 110)}"
    if action.actor:
        line += f"  by {_safe(action.actor, 40)}"
    if show_id:
        line += f"  [{action.id}]"
    click.echo(line)
    state = action.state.value
    if state == "queued":
        when = f"; next attempt {iso(action.next_attempt_at)}" if action.next_attempt_at else ""
        why = _safe(action.last_error or "waiting for an earlier action or the next dispatch", 200)
        click.echo(f"      {why}{when}")
    elif state in ("needs_attention", "failed"):
        click.echo(f"      {_safe(action.last_error or state, 300)}")
        click.echo(f"      `idqueue outbox --retry {action.id}` or `idqueue outbox --drop {action.id}`")
        return True
    return False


def _dispatch(ctx: Context, *, watch: set[str] | None = None, budget: float = WAIT_BUDGET) -> DispatchReport:
    """Send what is due; wait (briefly) for retries of the watched actions."""
    from idqueue.clock import clock_for
    from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
    from idqueue.outbox.models import ActionState

    clock = clock_for(ctx.settings)
    dispatcher = Dispatcher(ctx.store, ctx.settings, clock=clock, throttle=_throttle())
    total = DispatchReport()
    deadline = time.monotonic() + budget
    try:
        while True:
            report = dispatcher.run_once()
            total.merge(report)
            waiting = [a for a in dispatcher.outbox.select(states=[ActionState.QUEUED])
                       if watch is None or a.id in watch]
            due = min((a.next_attempt_at for a in waiting if a.next_attempt_at), default=None)
            if not waiting or due is None:
                break
            wait = (due - clock()).total_seconds()
            if wait > deadline - time.monotonic():
                break
            time.sleep(max(0.05, wait))
    finally:
        dispatcher.close()
    return total


def _vars(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--var {raw!r}: expected name=value")
        out[name.strip()] = value
    return out


_dry = click.option("--dry-run", is_flag=True, help="Show what would be written where (exact text); change nothing.")
_no_send = click.option("--no-send", is_flag=True, help="Queue only; send later with `idqueue outbox --send`.")
_yes = click.option("--yes", is_flag=True, help="Send even if the GitHub text looks like personal data.")


_reassign = click.option("--yes", "-y", "reassign", is_flag=True,
                         help="Reassign without asking when someone else has the request.")


@click.command()
@click.argument("request_id")
@click.argument("user")
@_dry
@_no_send
@_reassign
@pass_ctx
def assign(ctx: Context, request_id: str, user: str, dry_run: bool, no_send: bool, reassign: bool) -> None:
    """Assign a request to a team member (roster key, GitHub login or Slack id).

    Sets the GitHub assignee, posts the "assigned" message where the template says (unless the
    automation is off) and adds the "taken" reaction on Slack. When someone else has the
    request it asks first (without a terminal, `--yes` is needed).
    """
    _run(ctx, request_id, lambda a: a.plan_assign(request_id, user), lambda a: a.assign(request_id, user),
         dry_run=dry_run, no_send=no_send, reassign_ok=reassign)


def _request_verb(
    name: str,
    plan: Callable[[Actions, str], list[Step]],
    enqueue: Callable[[Actions, str], list[Action]],
    doc: str,
) -> click.Command:
    """A verb whose only argument is the request id (``idqueue take ID``, ``idqueue pending ID``...).

    Args:
        name: the command name.
        plan: the :class:`Actions` planner, e.g. ``Actions.plan_take``.
        enqueue: the matching :class:`Actions` method that queues the plan, e.g. ``Actions.take``.
        doc: the command's help text.
    """

    @click.command(name=name, help=doc)
    @click.argument("request_id")
    @_dry
    @_no_send
    @pass_ctx
    def command(ctx: Context, request_id: str, dry_run: bool, no_send: bool) -> None:
        _run(ctx, request_id, lambda a: plan(a, request_id), lambda a: enqueue(a, request_id),
             dry_run=dry_run, no_send=no_send)

    return command


@click.command()
@click.argument("request_id")
@_dry
@_no_send
@_reassign
@pass_ctx
def take(ctx: Context, request_id: str, dry_run: bool, no_send: bool, reassign: bool) -> None:
    """Assign a request to yourself (`me` in the config); asks before taking it from someone else."""
    _run(ctx, request_id, lambda a: a.plan_take(request_id), lambda a: a.take(request_id),
         dry_run=dry_run, no_send=no_send, reassign_ok=reassign)
unassign = _request_verb(
    "unassign", lambda a, rid: a.plan_unassign(rid), lambda a, rid: a.unassign(rid),
    """Remove the assignee.""",
)
pending = _request_verb(
    "pending", lambda a, rid: a.plan_pending(rid), lambda a, rid: a.pending(rid),
    """Mark a request as waiting on the requester (the SLA clock pauses).""",
)
resume = _request_verb(
    "resume", lambda a, rid: a.plan_resume(rid), lambda a, rid: a.resume(rid),
    """Clear "pending" (the SLA clock runs again).""",
)
backlog = _request_verb(
    "backlog", lambda a, rid: a.plan_backlog(rid), lambda a, rid: a.backlog(rid),
    """Move a request to the backlog.

    A GitHub issue gets the backlog label and loses its assignees; a Slack-only request becomes
    a new issue in the backlog repository, and its thread gets the link.
    """,
)
reopen = _request_verb(
    "reopen", lambda a, rid: a.plan_reopen(rid), lambda a, rid: a.reopen(rid),
    """Reopen a closed request, or bring a backlogged one back to the live queue.""",
)


@click.command()
@click.argument("request_id")
@click.option("--template", "-t", "template", default=None, help="Response template key (see `idqueue templates`).")
@click.option("--text", default=None,
              help="Free text (Markdown). With --template: post this text instead of the template's, "
                   "keeping the template's side effects.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template variable (repeatable).")
@click.option("--target", type=_TargetType(), default="auto", show_default=True,
              help="Where to post: auto = the template's destination (free text: the Slack thread if any); "
                   "a system (slack, github, …); all = every home of the request (both is the same).")
@_dry
@_no_send
@_yes
@pass_ctx
def reply(
    ctx: Context, request_id: str, template: str | None, text: str | None, variables: tuple[str, ...],
    target: str, dry_run: bool, no_send: bool, yes: bool,
) -> None:
    """Answer a request with a standard response template (and its side effects) or free text.

    `--template KEY --text T` together post T (your edit of the template's text; Markdown,
    converted for Slack) and still run the template's side effects (assign me, labels,
    pending, close, backlog). A `«missing: name»` marker left in T refuses to send.
    """
    extra = _vars(variables)
    if template is None and text is None:
        raise CliError("give --template KEY or --text TEXT")
    _run(
        ctx, request_id,
        lambda a: a.plan_reply(request_id, template=template, text=text, target=target, extra=extra),
        lambda a: a.reply(request_id, template=template, text=text, target=target, extra=extra),
        dry_run=dry_run, no_send=no_send, yes=yes,
    )


@click.command()
@click.argument("request_id")
@click.option("--template", "-t", "template", default="closed", show_default=True,
              help="Closing message template; `none` for no message.")
@click.option("--reason", type=click.Choice(["completed", "not_planned", "duplicate"]), default="completed",
              show_default=True, help="GitHub close reason.")
@click.option("--duplicate-of", "duplicate_of", metavar="KEY|URL", default=None,
              help="Close as a duplicate of this request (key, id or URL): links it, no survey.")
@_dry
@_no_send
@_yes
@pass_ctx
def close(
    ctx: Context, request_id: str, template: str, reason: str, duplicate_of: str | None, dry_run: bool,
    no_send: bool, yes: bool,
) -> None:
    """Close a request with the "closed" message (survey link) and the "done" reaction.

    `--duplicate-of REQ-12` (or `--reason duplicate --duplicate-of URL`) closes it as a duplicate
    instead: the requester is pointed at the original and gets no survey.
    """
    key = None if template.lower() == "none" else template
    if reason == "duplicate" and not duplicate_of and key is not None:
        raise CliError("--reason duplicate needs --duplicate-of KEY|URL (the original request), "
                       "or --template none to close it silently")
    _run(ctx, request_id, lambda a: a.plan_close(request_id, template=key, reason=reason, duplicate_of=duplicate_of),
         lambda a: a.close(request_id, template=key, reason=reason, duplicate_of=duplicate_of),
         dry_run=dry_run, no_send=no_send, yes=yes)


@click.command()
@click.argument("request_id")
@click.argument("level", type=click.Choice(["P1", "P2", "P3", "P4", "auto"], case_sensitive=False))
@_dry
@_no_send
@pass_ctx
def priority(ctx: Context, request_id: str, level: str, dry_run: bool, no_send: bool) -> None:
    """Override the priority (locally at once; a `priority:P1` label on GitHub); `auto` removes it.

    The new priority's SLA targets apply from now on: a first response already given stays
    met, and running clocks keep the share of their budget already used.
    """
    from idqueue.outbox.models import ActionError, NothingToDo

    level = level.upper()
    try:
        _actions(ctx).plan_priority(request_id, level)
    except NothingToDo as exc:
        _print_header(ctx, request_id)
        click.echo(f"  {_safe(str(exc), 200)}")
        return
    except ActionError:
        pass  # _run reports it
    _run(ctx, request_id, lambda a: a.plan_priority(request_id, level), lambda a: a.set_priority(request_id, level),
         dry_run=dry_run, no_send=no_send)
    if not dry_run:
        request = ctx.store.get_request(request_id)
        now_is = f" (now {request.priority})" if request is not None else ""
        click.echo("Override removed: the rules decide" + now_is + "." if level == "AUTO"
                   else f"Priority set to {level} locally. Its SLA targets apply from now on.")


@click.command()
@click.argument("request_id")
@click.argument("until", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Show the resolved time; change nothing.")
@pass_ctx
def snooze(ctx: Context, request_id: str, until: tuple[str, ...], dry_run: bool) -> None:
    """Hide a request from the queue until a time (only on this machine).

    UNTIL is read in the team's timezone and business calendar: 3h, 45m, 2d, 1w, tomorrow,
    "tomorrow 2pm", monday, "fri 9:30", 14:00, 2026-03-20, "2026-03-20 14:00" or ISO 8601.
    A day without a time means the start of the business day; a day that is not a working
    day moves to the next one. The resolved time is printed.
    """
    from idqueue.domain.when import describe_when, parse_when
    from idqueue.outbox.models import ActionError, NothingToDo

    actions = _actions(ctx)
    rid = _print_header(ctx, request_id)
    now = actions.clock()
    cal = ctx.settings.sla.calendar
    try:
        when = parse_when(" ".join(until), now, cal)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    shown = describe_when(when, now, cal.timezone)
    if dry_run:
        click.echo(f"  would snooze until {shown}")
        return
    try:
        actions.snooze(rid, when)
    except NothingToDo as exc:
        click.echo(f"  {_safe(str(exc), 200)}")
        return
    except ActionError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"  snoozed until {shown}; `idqueue unsnooze {_key_of(ctx, rid)}` shows it again")


@click.command()
@click.argument("request_id")
@pass_ctx
def unsnooze(ctx: Context, request_id: str) -> None:
    """Show a snoozed request in the queue again now."""
    from idqueue.outbox.models import ActionError, NothingToDo

    actions = _actions(ctx)
    rid = _print_header(ctx, request_id)
    try:
        actions.unsnooze(rid)
    except NothingToDo as exc:
        click.echo(f"  {_safe(str(exc), 200)}")
        return
    except ActionError as exc:
        raise CliError(str(exc)) from None
    click.echo("  back in the queue")


@click.command()
@pass_ctx
def snoozed(ctx: Context) -> None:
    """List the snoozed requests and when each comes back."""
    from idqueue.clock import clock_for
    from idqueue.domain.when import describe_when
    from idqueue.store.queue import QueueQuery, fetch_window

    now = clock_for(ctx.settings)()
    rows = fetch_window(ctx.store, QueueQuery(only_snoozed=True, sort="snoozed"), now=now, limit=-1)
    if not rows:
        click.echo("Nothing is snoozed.")
        return
    tz = ctx.settings.sla.calendar.timezone
    for request in rows:
        until = describe_when(request.snoozed_until, now, tz) if request.snoozed_until else ""
        click.echo(f"{request.key:<10} until {until:<34} {_safe(request.title, 70)}")


@click.command()
@click.argument("request_id")
@click.argument("customer", required=False)
@pass_ctx
def customer(ctx: Context, request_id: str, customer: str | None) -> None:
    """Show or set a request's customer: a key from the config, `none`, or `auto` (from the sender's address).

    Local to this idqueue, like a snooze: it picks the customer's pane, SLA policy and Trello board.
    """
    from idqueue.domain.customers import NO_CUSTOMER
    from idqueue.outbox.models import ActionError

    customers = ctx.settings.customers
    rid = _print_header(ctx, request_id)
    if customer is not None:
        if not customers:
            raise CliError("no customers are configured (IDQUEUE_CUSTOMERS or [customers.<key>] in the config)")
        value = customer.strip()
        folded = value.casefold()
        key: str | None
        if folded == "auto":
            key = None
        elif folded == "none":
            key = NO_CUSTOMER
        else:
            key = next((k for k, c in customers.items() if folded in (k.casefold(), c.name.casefold())), None)
            if key is None:
                fail_usage(f"no customer {value!r}; valid: {', '.join(customers)}, none, auto")
        try:
            _actions(ctx).set_customer(rid, key)
        except ActionError as exc:
            raise CliError(str(exc)) from None
    request = ctx.store.get_request(rid)
    found = request.customer if request is not None else None
    name = customers[found].name if found in customers else (found or "no customer")
    click.echo(f"  customer: {_safe(name, 80)}" + (f" ({found})" if found else ""))


def _key_of(ctx: Context, request_id: str) -> str:
    request = ctx.store.get_request(request_id)
    return request.key if request is not None else request_id


@click.command()
@click.option("--retry", "retry_id", metavar="ID", default=None, help="Queue a failed or stopped action again.")
@click.option("--force", is_flag=True, help="With --retry: skip the conflict check (do it anyway). With --send "
              "in team mode: send from here beside the team service.")
@click.option("--drop", "drop_id", metavar="ID", default=None, help="Drop an unsent action (and the rest of its verb).")
@click.option("--send", is_flag=True, help="Send every due action now.")
@click.option("--all", "show_all", is_flag=True, help="Also list sent and dropped actions.")
@click.option("--log", "log_id", metavar="ID", default=None, help="Show one action's attempt log.")
@click.option("--utc", is_flag=True, help="Times in UTC instead of the team's zone.")
@pass_ctx
def outbox(
    ctx: Context, retry_id: str | None, force: bool, drop_id: str | None, send: bool, show_all: bool,
    log_id: str | None, utc: bool,
) -> None:
    """List the outbox (actions not sent yet), or retry, drop, send, inspect.

    Times are in the team's zone with its name, as in the TUI (``--utc``: UTC).
    """
    from idqueue.outbox.models import UNSENT_STATES, ActionError

    actions = _actions(ctx)
    tz = ctx.settings.sla.calendar.timezone
    try:
        if log_id:
            action = actions.get(log_id)
            click.echo(f"{action.id}  {action.state.value}  {_safe(action.summary, 120)}")
            for entry in actions.log(action.id):
                detail = f"  {_safe(entry.detail, 200)}" if entry.detail else ""
                click.echo(f"  {format_time(entry.at, tz, utc=utc, seconds=True)}  #{entry.n:<3} {entry.outcome}{detail}")
            return
        if drop_id:
            for action in actions.dropped_with(drop_id):
                click.echo(f"  - dropped  {_safe(action.summary, 120)}  [{action.id}]")
            return
        if retry_id:
            action = actions.retry(retry_id, force=True if force else None)
            forced = " (conflict check skipped)" if action.params.get("force") else ""
            click.echo(f"Queued again{forced}: {_safe(action.summary, 120)}  [{action.id}]")
            # Report on the rest of the verb too: it was waiting behind this action.
            group = [a.id for a in actions.outbox.select(states=UNSENT_STATES, group_id=action.group_id)]
            _send_and_report(ctx, actions, group or [action.id])
            return
    except ActionError as exc:
        raise CliError(str(exc)) from None
    if send:
        if team_client(ctx.settings) and not force:
            click.echo(TEAM_CLIENT_REFUSAL, err=True)
            sys.exit(2)
        report = _dispatch(ctx)
        for reason in report.blocked:
            click.echo(f"note: {reason}")
        click.echo(report.summary())
        for action in [*report.needs_attention, *report.failed, *report.retrying]:
            _print_action(action)
        if report.needs_attention or report.failed:
            sys.exit(1)
        return
    rows = actions.all(None if show_all else UNSENT_STATES)
    if not rows:
        click.echo("The outbox is empty: everything was sent." if not show_all else "No actions yet.")
        return
    from idqueue.notify import outbox_request_keys

    keys = outbox_request_keys(ctx.store, (a.request_id for a in rows))
    for action in rows:
        _print_row(action, keys[action.request_id][0], tz, utc=utc)


def _print_row(action: Action, key: str, tz: str, *, utc: bool = False) -> None:
    when = ""
    if action.state.value == "queued" and action.next_attempt_at is not None:
        when = f" next {format_time(action.next_attempt_at, tz, utc=utc, seconds=True)}"
    if action.state.value == "queued" and action.hold_until is not None:
        when += f" held for undo until {format_time(action.hold_until, tz, utc=utc, seconds=True)}"
    click.echo(
        f"{action.id}  {_safe(key, 12):<12} {action.state.value:<15} {action.attempts:>2}x{when}  "
        f"{_safe(action.summary, 100)}{f'  by {_safe(action.actor, 40)}' if action.actor else ''}"
    )
    if action.last_error and action.state.value != "sent":
        click.echo(f"{'':14}{_safe(action.last_error, 160)}")


COMMANDS: list[click.Command] = [assign, take, unassign, reply, pending, resume, backlog, close, reopen, priority,
                                 snooze, unsnooze, snoozed, customer, outbox]
