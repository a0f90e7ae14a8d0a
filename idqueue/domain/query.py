"""The search language of the queue (TUI ``/`` and ``idqueue list --search``). Pure.

A search is words plus optional qualifiers, all combined with AND::

    login error                    words in title, body, intake fields or requester name
    REQ-44  #35  44                a request by short key, number or GitHub issue number
    https://github.com/o/r/issues/35   a GitHub issue URL, a Slack permalink, or a request id
    type:bug  priority:p1,p2  assignee:ana  assignee:none  source:slack  status:pending
    customer:acme  customer:none
    is:breached  is:at-risk  is:ok  is:mine  is:unassigned  is:open  is:closed  is:unread

A word that names a team member (roster key, first or last name, GitHub login) also finds the
requests assigned to them. Qualifier values are case-insensitive; a type may be given by any
unambiguous start of its name (``type:bug`` → "Bug Fix"), a customer by its key or any
unambiguous start of its name (``customer:none`` for requests without one); quote values with spaces
(``type:"data pull"``). An unknown ``name:value`` is searched as words. A reference
(key, number, URL, permalink) finds its request whatever its status, so ``/REQ-44`` finds a
closed one too.

:func:`parse_search` turns the text into a :class:`SearchSpec`; the store turns the spec into
indexed SQL (:mod:`idqueue.store.queue`). :func:`parse_reference` is the go-to prompt's parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from idqueue.domain.survey import request_ref_to_id

if TYPE_CHECKING:
    from idqueue.config import Settings

QUALIFIERS = ("type", "priority", "assignee", "source", "status", "customer", "is")
"""Qualifier names, in the order the help lists them."""

IS_VALUES = ("breached", "at-risk", "ok", "mine", "unassigned", "open", "closed", "unread")
"""Values of ``is:``."""

_SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
STATUSES = ("new", "acknowledged", "assigned", "pending", "resolved", "closed", "backlog")
PRIORITIES = ("P1", "P2", "P3", "P4")

_TOKEN = re.compile(r'(?P<name>[A-Za-z]+):"(?P<qv>[^"]*)"?|"(?P<phrase>[^"]*)"?|(?P<word>\S+)')
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*-(?P<n>\d+)$")
_NUMBER = re.compile(r"^#?(?P<n>\d{1,9})$")
_HASH_NUMBER = re.compile(r"^#(?P<n>\d{1,9})$")


class SearchError(ValueError):
    """The search cannot be run as typed (one line for the user)."""


@dataclass(frozen=True)
class Member:
    """What a search knows about one team member."""

    key: str
    names: tuple[str, ...]
    """Case-folded words that name them: key, first/last/full name, GitHub login."""


@dataclass(frozen=True)
class SearchContext:
    """What the parser needs from the configuration (kept small and hashable).

    Attributes:
        members: the roster.
        me: your roster key (``is:mine``, ``assignee:me``).
        repos: GitHub ``owner/name`` repos whose issue numbers ``#35`` may name.
        types: the configured request types (``type:`` matches their names).
        systems: ``(name, code)`` of each system a request can live in (``source:`` takes
            either, any case); empty: any lower-case name is taken as given.
        customers: ``(key, name)`` of each configured customer (``customer:`` takes either).
    """

    members: tuple[Member, ...] = ()
    me: str | None = None
    repos: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    systems: tuple[tuple[str, str], ...] = ()
    customers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, *, systems: Sequence[tuple[str, str]] = ()) -> SearchContext:
        """The context of a configuration and the registered systems (``(name, code)``)."""
        members = []
        for key, member in settings.team.items():
            words = {key, member.name, *member.name.split()}
            if member.github:
                words.add(member.github)
            members.append(Member(key, tuple(sorted(w.casefold() for w in words if w))))
        repos = [*settings.github.repos]
        if settings.github.backlog_repo and settings.github.backlog_repo not in repos:
            repos.append(settings.github.backlog_repo)
        types = tuple(dict.fromkeys(rule.type for rule in settings.intake.type_rules))
        customers = tuple((key, c.name) for key, c in settings.customers.items())
        return cls(tuple(members), settings.me, tuple(repos), types, tuple(systems), customers)


@dataclass(frozen=True)
class Reference:
    """Ways a typed reference can name a request; a request matching any of them is meant.

    Attributes:
        ids: request or source item ids (``gh:o/r#35``, ``slack:C1/1712.0001``).
        keys: short keys, upper-cased (``REQ-44``).
        seqs: key numbers (``44`` for ``REQ-44``).
        issue_first: when both match, the GitHub issue is meant before the key number
            (``#44`` reads as an issue number, ``44`` as a key number).
    """

    ids: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    seqs: tuple[int, ...] = ()
    issue_first: bool = False

    def __bool__(self) -> bool:
        return bool(self.ids or self.keys or self.seqs)


@dataclass(frozen=True)
class SearchSpec:
    """A parsed search; every part combines with AND.

    Attributes:
        words: full-text words (title, body, intake fields, requester).
        name_words: words that also name members: ``(word, roster keys)``; each matches the
            full text *or* those assignees.
        reference: a request named by key/number/URL (matched whatever its status).
        types / priorities / sources / statuses / sla_states: allowed values (empty = any).
        assignees: roster keys or logins; ``""`` means unassigned.
        customers: customer keys; ``""`` means no customer.
        open_state: ``"open"``, ``"closed"`` or None (the view's own scope).
        unread: only requests someone outside the team wrote on since you last looked
            (``is:unread``; see :attr:`~idqueue.domain.models.Request.unread`).
    """

    words: tuple[str, ...] = ()
    name_words: tuple[tuple[str, tuple[str, ...]], ...] = ()
    reference: Reference = field(default_factory=Reference)
    types: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    sla_states: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    open_state: str | None = None
    unread: bool = False

    def __bool__(self) -> bool:
        return self != SearchSpec()


def parse_reference(text: str, ctx: SearchContext = SearchContext()) -> Reference:
    """The request a single token names, or an empty :class:`Reference`.

    ``REQ-44`` (any prefix) → key; ``44`` / ``#44`` → key number 44 and issue 44 of each
    configured repo; a GitHub issue URL, a Slack permalink or a ``gh:``/``slack:`` id → that
    item.
    """
    token = text.strip()
    if not token or len(token.split()) != 1:
        return Reference()
    item = request_ref_to_id(token)
    if item:
        return Reference(ids=(item,))
    m = _KEY.match(token)
    if m:
        return Reference(keys=(token.upper(),))
    m = _NUMBER.match(token)
    if m:
        n = int(m["n"])
        return Reference(ids=tuple(f"gh:{repo}#{n}" for repo in ctx.repos), seqs=(n,),
                         issue_first=token.startswith("#"))
    return Reference()


def parse_search(text: str, ctx: SearchContext = SearchContext()) -> SearchSpec:
    """Parse a search (see the module docstring).

    Raises:
        SearchError: a qualifier's value is not known (the message lists the valid ones).
    """
    tokens = _tokens(text)
    if len(tokens) == 1 and tokens[0][0] is None:
        ref = parse_reference(tokens[0][1], ctx)
        if ref:
            return SearchSpec(reference=ref)
    acc: dict[str, list[str]] = {k: [] for k in ("types", "priorities", "sources", "statuses", "sla_states",
                                                 "assignees", "customers", "open", "unread")}
    words: list[str] = []
    name_words: list[tuple[str, tuple[str, ...]]] = []
    refs: list[Reference] = []
    for name, value in tokens:
        if name is not None:
            _qualifier(name, value, ctx, acc)
            continue
        ref = parse_reference(value, ctx) if not _NUMBER.match(value) or _HASH_NUMBER.match(value) else Reference()
        if ref:
            refs.append(ref)
            continue
        keys = _members_named(value, ctx.members)
        if keys:
            name_words.append((value, keys))
        else:
            words.append(value)
    opens = set(acc["open"])
    if len(opens) > 1:
        raise SearchError("is:open and is:closed exclude each other")
    return SearchSpec(
        words=tuple(words),
        name_words=tuple(name_words),
        reference=_merge(refs),
        types=_unique(acc["types"]),
        priorities=_unique(acc["priorities"]),
        sources=_unique(acc["sources"]),
        statuses=_unique(acc["statuses"]),
        sla_states=_unique(acc["sla_states"]),
        assignees=_unique(acc["assignees"]),
        customers=_unique(acc["customers"]),
        open_state=next(iter(opens), None),
        unread=bool(acc["unread"]),
    )


def _tokens(text: str) -> list[tuple[str | None, str]]:
    """``(qualifier name or None, value)`` per token; quoted phrases become plain words."""
    out: list[tuple[str | None, str]] = []
    for m in _TOKEN.finditer(text):
        if m["name"] is not None:
            out.append((m["name"].lower(), m["qv"]))
        elif m["phrase"] is not None:
            out.extend((None, w) for w in m["phrase"].split())
        else:
            word = m["word"]
            name, sep, value = word.partition(":")
            if sep and name.isalpha() and name.lower() in QUALIFIERS and value:
                out.append((name.lower(), value))
            else:
                out.append((None, word))
    return out


def _qualifier(name: str, value: str, ctx: SearchContext, acc: dict[str, list[str]]) -> None:
    single = name in ("type", "customer")  # names may hold commas
    values = [value.strip()] if single else [v.strip() for v in value.split(",") if v.strip()]
    for v in values:
        if name == "type":
            acc["types"].append(_one_type(v, ctx.types))
        elif name == "priority":
            p = v.upper() if v.upper().startswith("P") else f"P{v}"
            acc["priorities"].append(_choose(name, p, PRIORITIES))
        elif name == "source":
            acc["sources"].append(_one_system(v, ctx.systems))
        elif name == "status":
            acc["statuses"].append(_choose(name, v.lower(), STATUSES))
        elif name == "assignee":
            acc["assignees"].append(_one_assignee(v, ctx))
        elif name == "customer":
            acc["customers"].append(_one_customer(v, ctx.customers))
        else:
            _is(_choose("is", v.lower().replace("_", "-"), IS_VALUES), ctx, acc)


def _one_system(value: str, systems: tuple[tuple[str, str], ...]) -> str:
    """The system a ``source:`` value names, by name or code, any case."""
    folded = value.casefold()
    for name, code in systems:
        if folded in (name.casefold(), code.casefold()):
            return name
    if not systems and _SYSTEM_NAME.match(folded):
        return folded
    known = ", ".join(name for name, _ in systems) or "a lower-case system name"
    raise SearchError(f"unknown source:{value}; valid: {known}")


def _one_customer(value: str, customers: tuple[tuple[str, str], ...]) -> str:
    """The customer key a ``customer:`` value names: ``none`` (no customer), a key, a name, or
    an unambiguous start of a key or name; any case."""
    folded = value.casefold()
    if folded in ("none", "nobody", "unknown"):
        return ""
    for key, name in customers:
        if folded in (key.casefold(), name.casefold()):
            return key
    starts = [key for key, name in customers if key.casefold().startswith(folded) or name.casefold().startswith(folded)]
    if len(starts) == 1:
        return starts[0]
    if starts:
        raise SearchError(f"customer:{value} is ambiguous: {', '.join(starts)}")
    known = ", ".join(key for key, _ in customers)
    raise SearchError(f"unknown customer:{value}; valid: {known + ', ' if known else ''}none")


def _is(value: str, ctx: SearchContext, acc: dict[str, list[str]]) -> None:
    if value in ("breached", "at-risk", "ok"):
        acc["sla_states"].append(value.replace("-", "_"))
    elif value == "mine":
        if not ctx.me:
            raise SearchError("is:mine needs `me` set in the config (your roster key)")
        acc["assignees"].append(ctx.me)
    elif value == "unassigned":
        acc["assignees"].append("")
    elif value == "unread":
        acc["unread"].append(value)
    else:
        acc["open"].append(value)


def _choose(name: str, value: str, valid: Sequence[str]) -> str:
    if value in valid:
        return value
    raise SearchError(f"unknown {name}:{value}; valid: {', '.join(valid)}")


def _one_type(value: str, types: Sequence[str]) -> str:
    folded = value.casefold()
    if not types:
        return value
    exact = [t for t in types if t.casefold() == folded]
    if exact:
        return exact[0]
    starts = [t for t in types if t.casefold().startswith(folded)]
    if len(starts) == 1:
        return starts[0]
    inside = [t for t in types if folded in t.casefold()]
    if len(inside) == 1:
        return inside[0]
    if starts or inside:
        raise SearchError(f"type:{value} is ambiguous: {', '.join(starts or inside)}")
    raise SearchError(f"unknown type:{value}; valid: {', '.join(types)}")


def _one_assignee(value: str, ctx: SearchContext) -> str:
    folded = value.casefold().lstrip("@")
    if folded in ("none", "nobody", "unassigned"):
        return ""
    if folded == "me":
        if not ctx.me:
            raise SearchError("assignee:me needs `me` set in the config (your roster key)")
        return ctx.me
    keys = _members_named(folded, ctx.members)
    if len(keys) == 1:
        return keys[0]
    if len(keys) > 1:
        raise SearchError(f"assignee:{value} is ambiguous: {', '.join(keys)}")
    return value  # a login not on the roster is stored as is


def _members_named(word: str, members: Iterable[Member]) -> tuple[str, ...]:
    folded = word.casefold()
    return tuple(m.key for m in members if folded in m.names)


def _merge(refs: Sequence[Reference]) -> Reference:
    return Reference(
        ids=tuple(i for r in refs for i in r.ids),
        keys=tuple(k for r in refs for k in r.keys),
        seqs=tuple(s for r in refs for s in r.seqs),
    )


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
