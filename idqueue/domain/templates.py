"""Standard response templates: loading, context, sandboxed rendering to GitHub and Slack.

A template is one Markdown file with a TOML front matter block between ``+++`` lines
(TOML because :mod:`tomllib` is in the standard library and PyYAML is not a dependency)::

    +++
    key = "assigned"
    title = "Assigned: tell the requester who has it"
    types = []                 # request types it fits; empty = any
    destination = "auto"       # auto | all | a system's name: slack, github, …
    order = 30                 # position in pickers (then key)
    [side_effects]
    assign_me = true
    add_labels = []
    remove_labels = []
    set_pending = false
    close = false
    close_reason = "completed" # or "not_planned"
    backlog = false
    +++
    Your [GitHub issue]({{ request.github_url }}) is assigned to {{ assignee.mention }}.

Shipped defaults live in ``idqueue/templates``; the team's own directory
(``templates_dir``) overrides them by key.

Rendering uses Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` on a context of
plain strings and dicts (never live objects), with no loader (so no ``include`` or file
access). Every ``{{ … }}`` output is first replaced by an opaque token; the template's own
Markdown is then converted for the target's markup (``markdown`` or Slack's ``mrkdwn``; the
caller names it, from the target's write-back planner), and only then are the tokens replaced
by the values, escaped for that markup. So data can never become markup: a title of
``<!channel>`` reaches Slack as ``&lt;!channel&gt;``, and a title of ``[x](https://evil)``
stays text on Slack.

Undefined variables are collected (all of them, not just the first) and rendered as a
visible ``«missing: name»`` marker; callers refuse to send while :attr:`Rendered.missing` is
non-empty.
"""

from __future__ import annotations

import contextvars
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError, Undefined, pass_eval_context
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing as jinja_missing

from idqueue.config import Settings
from idqueue.domain.models import Request, SourceKind
from idqueue.domain.mrkdwn import (
    URL_SAFE_CHARS,
    convert_markdown,
    encode_link_target,
    escape_mrkdwn,
    strip_broadcasts,
)
from idqueue.domain.pii import PiiMatch, find_pii

__all__ = [
    "RESERVED_NAMES",
    "Destination",
    "Rendered",
    "ResponseTemplate",
    "SideEffects",
    "Target",
    "TemplateError",
    "build_context",
    "check_var_name",
    "load_templates",
    "render",
    "render_for",
    "targets_for",
    "templates_for",
]

Target = str
"""Where a text is posted: an integration's name (``github``, ``slack``, …)."""
Destination = str
"""A template's ``destination``: ``auto``, ``all`` (``both``) or an integration's name."""
Markup = Literal["markdown", "mrkdwn"]

_DEFAULT_MARKUP: dict[str, Markup] = {"slack": "mrkdwn"}
"""The markup of a target when the caller does not say (every other target: Markdown)."""

SLACK_USER_RE = re.compile(r"^[UW][A-Z0-9]+$")
_SLACK_MENTION_RE = re.compile(r"^<@[UW][A-Z0-9]+>$")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# GitHub logins: alphanumerics and single inner hyphens, up to 39 characters; "@org/team" too.
# The look-behind keeps e-mail addresses ("ana@va.gov") out.
_GH_MENTION_RE = re.compile(r"(?<![\w@`/.])@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})(/[\w.-]+)?")
# Private-use characters delimit value tokens; they are removed from templates and data.
_PRIVATE_RE = re.compile("[\ue000-\ue01f]")
_VALUE_TOKEN_RE = re.compile("\ue000(\\d+)\ue001")
_URL_TOKEN_RE = re.compile("\ue002(\\d+)\ue003")
_URL_START_TOKEN_RE = re.compile("\ue004(\\d+)\ue005")
_ANY_URL_TOKEN_RE = re.compile("[\ue002\ue004]\\d+[\ue003\ue005]")
_MD_LINK_TARGET_RE = re.compile(r"\]\(([^)\s]*)\)")
_FRONT_MATTER_RE = re.compile(r"\A\ufeff?\+\+\+[ \t]*\r?\n(.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)

RESERVED_NAMES = frozenset(
    {"request", "requester", "assignee", "me", "team_name", "docs_link", "survey_link", "target", "backlog"}
)
"""Context names that ``--var`` cannot override."""

_SIDE_EFFECT_KEYS = frozenset(
    {"assign_me", "add_labels", "remove_labels", "set_pending", "close", "close_reason", "backlog"}
)
_FRONT_MATTER_KEYS = frozenset({"key", "title", "types", "destination", "order", "side_effects", "internal"})
_CLOSE_REASONS = ("completed", "not_planned")
_DESTINATIONS: tuple[Destination, ...] = ("auto", "all", "both")
"""The destinations that are not one system's name."""
_SYSTEM_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class TemplateError(Exception):
    """A template is unusable: bad front matter, bad syntax or a sandbox violation.

    The message names the file (or template key) and the problem.
    """


@dataclass(frozen=True)
class SideEffects:
    """What sending a template also does to the request."""

    assign_me: bool = False
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    set_pending: bool = False
    close: bool = False
    close_reason: str = "completed"
    backlog: bool = False

    def describe(self) -> str:
        """A short human summary, e.g. ``assign me, +label triaged, close (not planned)``."""
        parts: list[str] = []
        if self.assign_me:
            parts.append("assign me")
        parts += [f"+label {label}" for label in self.add_labels]
        parts += [f"-label {label}" for label in self.remove_labels]
        if self.set_pending:
            parts.append("set pending")
        if self.backlog:
            parts.append("backlog")
        if self.close:
            parts.append("close" if self.close_reason == "completed" else f"close ({self.close_reason.replace('_', ' ')})")
        return ", ".join(parts)


@dataclass(frozen=True)
class ResponseTemplate:
    """One standard response.

    Attributes:
        key: unique id (``assigned``); a team template with the same key replaces a shipped one.
        title: shown in pickers.
        types: request types it fits (empty = any).
        side_effects: what sending it also does.
        destination: where it is posted; ``auto`` (and ``all``, ``both``) = every home the
            request has; a system's name = that home only.
        body: the Jinja2/Markdown source.
        path: the file it came from.
        origin: ``shipped`` (packaged default) or ``team`` (the team's directory).
        order: position in pickers (then key).
        internal: a note for the team, not a reply to the requester: where the system has
            such notes (a Jira Service Management internal comment) it is posted as one.
    """

    key: str
    title: str
    types: tuple[str, ...]
    side_effects: SideEffects
    destination: Destination
    body: str
    path: str | None
    origin: Literal["shipped", "team"] = "shipped"
    order: int = 100
    internal: bool = False

    def fits(self, request_type: str) -> bool:
        """Whether the template applies to a request type (case-insensitive)."""
        return not self.types or request_type.casefold() in {t.casefold() for t in self.types}


@dataclass(frozen=True)
class Rendered:
    """The text of a template rendered for one target.

    Attributes:
        target: the integration it is for (``github``, ``slack``, …).
        text: the text to post.
        missing: names of variables the template used but the context lacks (dotted,
            e.g. ``request.fields.team``); the text shows ``«missing: name»`` for each.
        pii: spans of ``text`` that look like personal data.
    """

    target: Target
    text: str
    missing: tuple[str, ...]
    pii: tuple[PiiMatch, ...]

    @property
    def ok_to_send(self) -> bool:
        """No variable is missing (PII is a warning the user confirms, not a block)."""
        return not self.missing


# --------------------------------------------------------------------------- loading
def _parse_file(text: str, source: str, origin: Literal["shipped", "team"], default_key: str) -> ResponseTemplate:
    text = text.replace("\r\n", "\n")
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        raise TemplateError(f"{source}: missing front matter (the file must start with a '+++' line)")
    try:
        meta = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{source}: front matter is not valid TOML ({exc})") from None
    unknown = set(meta) - _FRONT_MATTER_KEYS
    if unknown:
        raise TemplateError(f"{source}: unknown front matter key(s): {', '.join(sorted(unknown))}")
    key = meta.get("key", default_key)
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise TemplateError(f"{source}: key must be lowercase letters, digits, '_' or '-' (got {key!r})")
    title = meta.get("title", key)
    if not isinstance(title, str):
        raise TemplateError(f"{source}: title must be a string")
    types = _str_tuple(meta.get("types", []), f"{source}: types")
    destination = meta.get("destination", "auto")
    if not isinstance(destination, str) or not (destination in _DESTINATIONS or _SYSTEM_NAME_RE.match(destination)):
        raise TemplateError(f"{source}: destination must be one of {', '.join(_DESTINATIONS)} or a system's name "
                            f"such as slack or github (got {destination!r})")
    order = meta.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        raise TemplateError(f"{source}: order must be an integer")
    effects = _parse_side_effects(meta.get("side_effects", {}), source)
    internal = meta.get("internal", False)
    if not isinstance(internal, bool):
        raise TemplateError(f"{source}: internal must be true or false")
    body = _PRIVATE_RE.sub("", text[match.end():]).strip("\n") + "\n"
    try:
        _compile(body)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{source}: template syntax error on body line {exc.lineno}: {exc.message}") from None
    return ResponseTemplate(
        key=key,
        title=title,
        types=types,
        side_effects=effects,
        destination=destination,
        body=body,
        path=source,
        origin=origin,
        order=order,
        internal=internal,
    )


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TemplateError(f"{what} must be a list of strings")
    return tuple(value)


def _parse_side_effects(raw: Any, source: str) -> SideEffects:
    if not isinstance(raw, dict):
        raise TemplateError(f"{source}: [side_effects] must be a table")
    unknown = set(raw) - _SIDE_EFFECT_KEYS
    if unknown:
        raise TemplateError(f"{source}: unknown side effect(s): {', '.join(sorted(unknown))}")
    flags: dict[str, bool] = {}
    for name in ("assign_me", "set_pending", "close", "backlog"):
        value = raw.get(name, False)
        if not isinstance(value, bool):
            raise TemplateError(f"{source}: side_effects.{name} must be true or false")
        flags[name] = value
    reason = raw.get("close_reason", "completed")
    if reason not in _CLOSE_REASONS:
        raise TemplateError(f"{source}: side_effects.close_reason must be one of {', '.join(_CLOSE_REASONS)}")
    if flags["close"] and flags["backlog"]:
        raise TemplateError(f"{source}: a template cannot both close and move to the backlog")
    return SideEffects(
        assign_me=flags["assign_me"],
        add_labels=_str_tuple(raw.get("add_labels", []), f"{source}: side_effects.add_labels"),
        remove_labels=_str_tuple(raw.get("remove_labels", []), f"{source}: side_effects.remove_labels"),
        set_pending=flags["set_pending"],
        close=flags["close"],
        close_reason=reason,
        backlog=flags["backlog"],
    )


def _collect(entries: Iterable[tuple[str, str, str]], origin: Literal["shipped", "team"]) -> dict[str, ResponseTemplate]:
    found: dict[str, ResponseTemplate] = {}
    for name, source, text in sorted(entries):
        tpl = _parse_file(text, source, origin, default_key=name.removesuffix(".md"))
        if tpl.key in found:
            raise TemplateError(f"{source}: key {tpl.key!r} is also used by {found[tpl.key].path}")
        found[tpl.key] = tpl
    return found


@lru_cache(maxsize=1)
def _shipped() -> dict[str, ResponseTemplate]:
    folder = resources.files("idqueue").joinpath("templates")
    entries = [
        (entry.name, str(entry), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".md") and entry.is_file()
    ]
    return _collect(entries, "shipped")


# The team directory is re-read only when a file is added, removed or edited.
_team_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], dict[str, ResponseTemplate]]] = {}


def _team(user_dir: Path) -> dict[str, ResponseTemplate]:
    if not user_dir.is_dir():
        raise TemplateError(f"templates_dir: {user_dir} is not a directory")
    files = sorted(p for p in user_dir.glob("*.md") if p.is_file())
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    cached = _team_cache.get(user_dir)
    if cached is not None and cached[0] == signature:
        return cached[1]
    entries: list[tuple[str, str, str]] = []
    for path in files:
        try:
            entries.append((path.name, str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: cannot be read ({exc})") from None
    templates = _collect(entries, "team")
    _team_cache[user_dir] = (signature, templates)
    return templates


def load_templates(user_dir: Path | None) -> dict[str, ResponseTemplate]:
    """The shipped templates, overridden and extended by the team's own directory.

    Args:
        user_dir: the team's templates directory (``settings.templates_dir``), or None.

    Returns:
        key → template.

    Raises:
        TemplateError: a file has bad front matter or syntax, two files share a key, or
            ``user_dir`` is not a directory. The message names the file.
    """
    templates = dict(_shipped())
    if user_dir is not None:
        templates.update(_team(user_dir.expanduser().resolve()))
    return templates


def templates_for(request: Request, templates: dict[str, ResponseTemplate]) -> list[ResponseTemplate]:
    """The templates that fit a request's type, in picker order (``order``, then key)."""
    return sorted((t for t in templates.values() if t.fits(request.type)), key=lambda t: (t.order, t.key))


def targets_for(template: ResponseTemplate, request: Request, homes: Iterable[str] | None = None) -> list[Target]:
    """Where a template goes for a request: its ``destination``, or every home for ``auto``.

    A target the request does not live on is dropped (a Slack-only request has no GitHub
    issue to comment on), so the result may be empty.

    Args:
        template: the template.
        request: the request.
        homes: the systems the request lives in that can be written to, in order of preference
            (default: its sources).
    """
    names: list[Target] = list(homes) if homes is not None else [str(s) for s in request.sources]
    if template.destination in _DESTINATIONS:
        return names
    return [t for t in names if t == template.destination]


# --------------------------------------------------------------------------- context
def _person(
    settings: Settings, ident: str | None, name: str | None = None, *, slack_home: bool = True
) -> dict[str, Any] | None:
    """A person as plain data: roster details when the id is a team member's."""
    if not ident:
        return None
    key = ident if ident in settings.team else (settings.member_by_slack(ident) or settings.member_by_github(ident))
    github: str | None
    slack: str | None
    if key is not None:
        member = settings.team[key]
        name, github, slack = member.name, member.github, member.slack
    elif slack_home and SLACK_USER_RE.match(ident):
        github, slack = None, ident
    else:
        github, slack = ident, None
    display = name or ident
    person: dict[str, Any] = {
        "id": ident,
        "key": key,
        "name": display,
        "github": github,
        "slack": slack,
        # Mentions only through ids we know are real: otherwise the plain name.
        "slack_mention": f"<@{slack}>" if slack and SLACK_USER_RE.match(slack) else display,
        "github_mention": f"@{github}" if github else display,
    }
    return {k: v for k, v in person.items() if v is not None}


def _docs_link(settings: Settings, request_type: str) -> str | None:
    docs = {k.casefold(): v for k, v in settings.intake.docs.items()}
    return docs.get(request_type.casefold()) or docs.get("default")


def check_var_name(name: str) -> None:
    """Validate the name of an extra (``--var``) variable.

    Raises:
        ValueError: the name is not an identifier, or is a built-in context name.
    """
    if not _VAR_RE.match(name):
        raise ValueError(f"--var {name!r}: a name is letters, digits and '_'")
    if name in RESERVED_NAMES:
        raise ValueError(f"--var {name!r}: this name is built in and cannot be replaced")


def build_context(
    request: Request,
    settings: Settings,
    *,
    assignee: str | None = None,
    me: str | None = None,
    extra: dict[str, str] | None = None,
    backlog: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The render context of a request: plain strings, ints, lists and dicts only.

    Unknown values are *absent* (not empty strings), so a template that uses them reports
    them as missing instead of rendering a blank.

    Args:
        request: the request being answered.
        settings: roster, team name, docs links, survey link.
        assignee: roster key, login or Slack id of the assignee (default: the request's).
        me: roster key of the person sending (default: ``settings.me``).
        extra: ``--var k=v`` values, e.g. ``due_date``.
        backlog: the backlog item the verb creates or moves the request to, as ``backlog``:
            ``noun`` ("the backlog issue", "the backlog card"), ``url``, ``system``.

    Raises:
        ValueError: an ``extra`` name is not an identifier or would replace a built-in name.
    """
    # ``request.<system>_url`` for each home (the primary home falls back to the request's
    # URL), and ``request.backlog_url`` once the request has a backlog item.
    sources = [str(s) for s in request.sources]
    urls = {f"{name}_url": url for name, url in request.links.items() if url}
    if sources and request.url and not urls.get(f"{sources[0]}_url"):
        urls[f"{sources[0]}_url"] = request.url
    req: dict[str, Any] = {
        "id": request.id,
        "key": request.key,
        "title": request.title,
        "type": request.type,
        "url": request.url or next((u for u in urls.values() if u), None),
        **urls,
        "status": str(request.status),
        "priority": request.priority,
        "labels": list(request.labels),
        "fields": {k: v for k, v in request.fields.items() if v},
        # The team's calendar date: a request filed at 21:00 in New York is "today" there.
        "created_at": request.created_at.astimezone(ZoneInfo(settings.sla.calendar.timezone)).date().isoformat(),
    }
    requester = request.requester
    context: dict[str, Any] = {
        "request": {k: v for k, v in req.items() if v is not None},
        "requester": _person(
            settings,
            requester.id if requester else None,
            requester.name if requester else None,
            slack_home=SourceKind("slack") in request.sources,
        ),
        "assignee": _person(settings, assignee or request.assignee),
        "me": _person(settings, me or settings.me),
        "team_name": settings.team_name,
        "docs_link": _docs_link(settings, request.type),
        "survey_link": settings.survey.url or None,
        "backlog": dict(backlog) if backlog else None,
    }
    for name, value in (extra or {}).items():
        check_var_name(name)
        context[name] = value
    return {k: v for k, v in context.items() if v is not None}


# --------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _Value:
    """One ``{{ … }}`` output: as the template produced it, and made safe for the target."""

    raw: str
    processed: str
    is_data: bool  # False for known mentions and missing-markers, which are never URL-encoded


@dataclass
class _RenderState:
    target: Target
    markup: Markup
    allowed_logins: frozenset[str]
    values: list[_Value] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


_MENTION_PATHS = frozenset(
    f"{role}.{leaf}" for role in ("requester", "assignee", "me") for leaf in ("slack_mention", "github_mention", "mention")
)
_STATE: contextvars.ContextVar[_RenderState] = contextvars.ContextVar("idqueue_template_render")


class ContextDict(dict[str, Any]):
    """A context dict that knows its dotted path, so a missing key is named in full.

    (Not exported; the name shows in sandbox error messages, hence no underscore.)
    """

    __slots__ = ("path",)

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.path = path


class _Mention(str):
    """A Slack/GitHub mention built from a known id: inserted without escaping."""

    __slots__ = ()


class _MissingUndefined(Undefined):
    """Renders as a visible marker and records the dotted name of what was missing."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = None,
        name: str | None = None,
        exc: type[TemplateRuntimeError] | None = None,
    ) -> None:
        if obj is None:
            obj = jinja_missing
        if isinstance(name, str) and isinstance(obj, ContextDict):
            name = f"{obj.path}.{name}"
        elif isinstance(name, str) and isinstance(obj, _MissingUndefined) and obj._undefined_name:
            name = f"{obj._undefined_name}.{name}"
        super().__init__(hint, obj, name, exc or UndefinedError)

    @property
    def _is_plain_missing(self) -> bool:
        # A sandbox violation is also an Undefined (with a hint and SecurityError): never
        # let it pass as "just missing".
        return self._undefined_exception is UndefinedError and self._undefined_hint is None

    def _record(self) -> str:
        if not self._is_plain_missing:
            self._fail_with_undefined_error()
        name = str(self._undefined_name or "?")
        state = _STATE.get(None)
        if state is not None and name not in state.missing:
            state.missing.append(name)
        return f"«missing: {name}»"

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        # Arithmetic or a call on a missing value stops the render; still name the variable.
        if self._is_plain_missing:
            state = _STATE.get(None)
            name = str(self._undefined_name or "?")
            if state is not None and name not in state.missing:
                state.missing.append(name)
        super()._fail_with_undefined_error(*args, **kwargs)

    # The base class binds its operators to *its* _fail_with_undefined_error; rebind them.
    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __div__ = __rdiv__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = __pos__ = __neg__ = __call__ = _fail_with_undefined_error
    __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error

    def __str__(self) -> str:
        return self._record()

    def __iter__(self) -> Iterator[Any]:
        self._record()
        yield from ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        if not self._is_plain_missing:
            self._fail_with_undefined_error()
        return _MissingUndefined(obj=self, name=name)

    def __getitem__(self, key: Any) -> Any:
        if not self._is_plain_missing:
            self._fail_with_undefined_error()
        return _MissingUndefined(obj=self, name=str(key))

    def __html__(self) -> str:
        return str(self)


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> str:
    # pass_eval_context also stops Jinja from finalizing constants at compile time, which
    # would bake one render's tokens into the cached compiled template.
    state = _STATE.get()
    if isinstance(value, Undefined):
        marker = str(value)  # records a missing name, or raises for a sandbox violation
        state.values.append(_Value(marker, marker, is_data=False))
    elif isinstance(value, _Mention):
        state.values.append(_Value(str(value), str(value), is_data=False))
    else:
        raw = str(value)
        if state.markup == "mrkdwn":
            processed = escape_mrkdwn(raw)
        else:
            processed = _neutralise_mentions(raw, state.allowed_logins)
        state.values.append(_Value(raw, processed, is_data=True))
    return f"\ue000{len(state.values) - 1}\ue001"


def _neutralise_mentions(text: str, allowed: frozenset[str]) -> str:
    """Wrap ``@name`` in backticks unless it is a login we know (requester, assignee, me).

    Backticks rather than an invisible zero-width joiner: the reader sees exactly what was
    written, a copy-paste keeps the real name, and GitHub does not notify inside code spans.
    """

    def repl(m: re.Match[str]) -> str:
        if m.group(2) is None and m.group(1).lower() in allowed:
            return m.group(0)
        return f"`{m.group(0)}`"

    return _GH_MENTION_RE.sub(repl, text)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, plus "a key of a context dict wins over a dict method of the same name"."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, ContextDict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_ENV = _Environment(
    autoescape=False,
    undefined=_MissingUndefined,
    finalize=_finalize,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


# No loader (so no include/import/extends) and only harmless globals.
_ENV.globals = {name: _ENV.globals[name] for name in ("range", "dict", "namespace")}


@lru_cache(maxsize=256)
def _compile(body: str) -> Any:
    return _ENV.from_string(body)


def _wrap(value: Any, path: str, markup: Markup) -> Any:
    if isinstance(value, dict):
        return ContextDict(path, {str(k): _wrap(v, f"{path}.{k}" if path else str(k), markup) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [_wrap(v, path, markup) for v in value]
    if isinstance(value, str):
        value = _PRIVATE_RE.sub("", value)
        if path in _MENTION_PATHS:
            return _Mention(value) if _is_known_mention(value, markup) else value
        return value
    return value


def _is_known_mention(value: str, markup: Markup) -> bool:
    return bool(_SLACK_MENTION_RE.match(value)) if markup == "mrkdwn" else value.startswith("@")


def _target_context(context: dict[str, Any], target: Target, markup: Markup) -> tuple[dict[str, Any], frozenset[str]]:
    """Add each person's ``mention`` for the target; where Slack mentions mean nothing (a
    Markdown target), ``slack_mention`` reads as the target's own mention, so a template written
    for Slack still addresses people properly there."""
    ctx = dict(context)
    ctx["target"] = target
    allowed: set[str] = set()
    for role in ("requester", "assignee", "me"):
        person = ctx.get(role)
        if not isinstance(person, dict):
            continue
        person = dict(person)
        if markup != "mrkdwn":
            person["slack_mention"] = person.get(f"{target}_mention", person.get("name", ""))
            if person.get(target):
                allowed.add(str(person[target]).lower())
        person["mention"] = person.get(f"{target}_mention", person.get("name", ""))
        ctx[role] = person
    return ctx, frozenset(allowed)


def render(
    template: ResponseTemplate,
    context: dict[str, Any],
    target: Target,
    *,
    markup: Markup | None = None,
    pii_allow: Iterable[str] = (),
) -> Rendered:
    """Render a template for one target, in its markup (Markdown, or Slack's mrkdwn).

    Args:
        template: the template.
        context: from :func:`build_context` (plain data only).
        target: the integration it is for (``github``, ``slack``, …).
        markup: the target's markup (default: ``mrkdwn`` for Slack, else ``markdown``).
        pii_allow: strings that are fine to post (the team's addresses); the survey and docs
            links and the request's own URLs are always allowed.

    Returns:
        The text, the missing variable names and the PII-looking spans of the text.

    Raises:
        TemplateError: syntax error or sandbox violation (the message names the template).
    """
    markup = markup or _DEFAULT_MARKUP.get(target, "markdown")
    ctx, allowed = _target_context(context, target, markup)
    state = _RenderState(target=target, markup=markup, allowed_logins=allowed)
    token = _STATE.set(state)
    try:
        compiled = _compile(template.body)
        rendered = compiled.render(_wrap(ctx, "", markup))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{template.path or template.key}: template syntax error on body line {exc.lineno}: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"{template.path or template.key}: not allowed in a template: {exc}") from None
    except UndefinedError as exc:
        if not state.missing:
            raise TemplateError(f"{template.path or template.key}: {exc.message or exc}") from None
        # An operation on a missing value stopped the render: there is no text to show,
        # but the missing names are known, and that is what the user must fix.
        return Rendered(target=target, text=f"«cannot render: {exc.message}»\n", missing=tuple(state.missing), pii=())
    except JinjaTemplateError as exc:
        raise TemplateError(f"{template.path or template.key}: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateError(f"{template.path or template.key}: {type(exc).__name__}: {exc}") from None
    finally:
        _STATE.reset(token)

    if markup == "mrkdwn":
        text = strip_broadcasts(_substitute(convert_markdown(rendered, url_hook=_slack_url_hook), state))
    else:
        text = _substitute(_MD_LINK_TARGET_RE.sub(lambda m: f"]({_mark_url_tokens(m.group(1))})", rendered), state)
    text = text.strip("\n") + "\n" if text.strip() else ""
    request = context.get("request", {})
    allow = [*pii_allow, *(str(context[k]) for k in ("survey_link", "docs_link") if context.get(k))]
    if isinstance(request, dict):
        allow += [str(v) for k, v in request.items() if (k == "url" or k.endswith("_url")) and v]
    return Rendered(
        target=target,
        text=text,
        missing=tuple(state.missing),
        pii=tuple(find_pii(text, allow=allow)),
    )


def _mark_url_tokens(url: str) -> str:
    """Mark the value tokens inside a link target so they are URL-encoded, not just escaped.

    A value that *starts* the target is checked like a whole URL (on Slack, anything but
    http(s)/mailto is fully encoded so ``<!channel|…>`` cannot appear); a value further in is
    a URL component and is fully encoded. The template's own text stays as written on GitHub
    and is encoded as a target on Slack (by the caller's hook).
    """
    out: list[str] = []
    pos = 0
    for m in _VALUE_TOKEN_RE.finditer(url):
        out.append(url[pos : m.start()])
        opener, closer = ("\ue004", "\ue005") if m.start() == 0 else ("\ue002", "\ue003")
        out.append(f"{opener}{m.group(1)}{closer}")
        pos = m.end()
    out.append(url[pos:])
    return "".join(out)


def _slack_url_hook(url: str) -> str:
    """The Slack link-target hook: mark value tokens, encode the template's own text."""
    marked = _mark_url_tokens(url)
    out: list[str] = []
    pos = 0
    for m in _ANY_URL_TOKEN_RE.finditer(marked):
        out.append(_encode_url_literal(marked[pos : m.start()], first=pos == 0))
        out.append(m.group(0))
        pos = m.end()
    out.append(_encode_url_literal(marked[pos:], first=pos == 0))
    return "".join(out)


def _encode_url_literal(text: str, *, first: bool) -> str:
    if not text:
        return ""
    return encode_link_target(text) if first else escape_mrkdwn(quote(text, safe=URL_SAFE_CHARS))


def _substitute(text: str, state: _RenderState) -> str:
    start_encode = encode_link_target if state.markup == "mrkdwn" else _encode_github_url

    def value(m: re.Match[str]) -> str:
        return state.values[int(m.group(1))].processed

    def url_start(m: re.Match[str]) -> str:
        item = state.values[int(m.group(1))]
        return start_encode(item.raw) if item.is_data else item.processed

    def url_part(m: re.Match[str]) -> str:
        item = state.values[int(m.group(1))]
        if not item.is_data:
            return item.processed
        encoded = quote(item.raw, safe="")
        return escape_mrkdwn(encoded) if state.markup == "mrkdwn" else encoded

    # Tokens can nest ({% set %} blocks capture output), so substitute until none are left;
    # a token only ever contains earlier tokens, which bounds the loop.
    for _ in range(len(state.values) + 1):
        new = _VALUE_TOKEN_RE.sub(value, text)
        new = _URL_START_TOKEN_RE.sub(url_start, new)
        new = _URL_TOKEN_RE.sub(url_part, new)
        if new == text:
            break
        text = new
    return text


def _encode_github_url(url: str) -> str:
    # Spaces, parentheses and angle brackets would end a Markdown link destination early.
    return quote(url, safe=URL_SAFE_CHARS.replace("(", "").replace(")", "").replace("[", "").replace("]", ""))


def render_for(
    request: Request,
    template: ResponseTemplate,
    settings: Settings,
    *,
    target: Target,
    markup: Markup | None = None,
    assignee: str | None = None,
    me: str | None = None,
    extra: dict[str, str] | None = None,
    backlog: dict[str, str] | None = None,
) -> Rendered:
    """Build the context and render in one call (``markup``: see :func:`render`).

    A template with the ``assign_me`` side effect is rendered as if already assigned to
    ``me`` (that is what sending it does), unless ``assignee`` is given.
    """
    me = me or settings.me
    if assignee is None and template.side_effects.assign_me and me:
        assignee = me
    context = build_context(request, settings, assignee=assignee, me=me, extra=extra, backlog=backlog)
    team_addresses = [m.email for m in settings.team.values() if m.email]
    return render(template, context, target, markup=markup, pii_allow=team_addresses)
