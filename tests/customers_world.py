"""A small consultancy desk built in a temp store: mail threads from three customers and from
unknown senders, for the customer tests (store, metrics, report, TUI).

The requests are email-shaped :class:`SourceItem` values (``email:<Message-ID>``, the sender's
address as the requester's id) applied through the real assembler, so the customer, the SLA
policy and the statuses are derived exactly as a sync would derive them.

Clock: Wednesday 11 March 2026, 15:30 UTC. Every request is received in March 2026:

===========  ===========================  ================  ==========================  =========
request      sender                       customer          what happened               48 h rule
===========  ===========================  ================  ==========================  =========
acme-new     jane@acme.com                acme              open, 5.5 h old             not due
acme-bl      ops@mail.acme.com            acme (subdomain)  backlogged after 27 h       hit
acme-late    jane@acme.com                acme              closed after 72 h           miss
globex-pat   pat.contractor@gmail.com     globex (address)  closed after 8 h            hit
globex-open  tom@globex.co.uk             globex            open for 5 days             miss
initech-pd   a.lee@initech.io             initech           pending for 3 days          miss
stray-new    someone@example.org          none              open, 6.5 h old             not due
stray-done   bob@gmail.com                none              closed after 3 h            hit
===========  ===========================  ================  ==========================  =========

Overall: 3 hits out of 6 decided (50 %), 2 not yet due. Acme 1/2 (1 not due), Globex 1/2,
Initech 0/1, no customer 1/1 (1 not due).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from idqueue.config import CustomerConfig, Settings, SlaConfig, SlaPolicy, TeamMember
from idqueue.domain.assemble import make_assembler
from idqueue.domain.models import EventKind, Person, SourceItem, SourceKind, TimelineEvent
from idqueue.integrations.registry import rulebook
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NOW_ISO = "2026-03-11T15:30:00Z"
EMAIL = SourceKind("email")
SUPPORT = "support@consultancy.example"

CUSTOMERS = {
    "acme": CustomerConfig(name="Acme Ltd", domains=["acme.com"], trello_board="AcMe1234", sla_policy="Acme contract"),
    "globex": CustomerConfig(name="Globex", domains=["globex.co.uk"], addresses=["pat.contractor@gmail.com"]),
    "initech": CustomerConfig(name="Initech", domains=["initech.io"]),
}
ACME_POLICY = SlaPolicy(name="Acme contract", first_response=2, resolution=24, calendar="24x7")


@dataclass(frozen=True)
class Mail:
    """One thread: its first message, who sent it, and what happened to it (hours after it came)."""

    name: str
    sender: str
    subject: str
    created: datetime
    answered_after: float | None = None
    closed_after: float | None = None
    backlogged_after: float | None = None
    pending_after: float | None = None

    @property
    def id(self) -> str:
        """The request id: ``email:<Message-ID>``."""
        return f"email:{self.name}@mail.example"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


MAILS = (
    Mail("acme-new", "jane@acme.com", "Export to CSV times out", _at(11, 10)),
    Mail("acme-bl", "ops@mail.acme.com", "Add SSO for the partner portal", _at(9, 9), answered_after=1,
         backlogged_after=27),
    Mail("acme-late", "jane@acme.com", "Invoice PDF shows the wrong VAT", _at(2, 9), answered_after=3,
         closed_after=72),
    Mail("globex-pat", "pat.contractor@gmail.com", "Staging certificate expired", _at(10, 8), answered_after=0.5,
         closed_after=8),
    Mail("globex-open", "tom@globex.co.uk", "Search results are empty since Friday", _at(6, 10), answered_after=4),
    Mail("initech-pd", "a.lee@initech.io", "Which API version do we use?", _at(8, 10), answered_after=1,
         pending_after=2),
    Mail("stray-new", "someone@example.org", "Do you support on-prem installs?", _at(11, 9)),
    Mail("stray-done", "bob@gmail.com", "Password reset mail never arrives", _at(4, 9), answered_after=1,
         closed_after=3),
)
"""The threads, in the order of the table in the module docstring."""


def settings(db: Path, *, customers: dict[str, CustomerConfig] | None = None) -> Settings:
    """The desk's settings: the customers, the default SLA policies plus Acme's contract, a
    roster of one (the support address answers for the team), the frozen clock."""
    defaults = SlaConfig().policies
    return Settings(
        db=db,
        now=NOW_ISO,
        team_name="Consultancy",
        team={"nick": TeamMember(name="Nick Wood", email=SUPPORT)},
        me="nick",
        customers=CUSTOMERS if customers is None else customers,
        sla=SlaConfig(policies=[*defaults, ACME_POLICY]),
    )


def _item(mail: Mail) -> SourceItem:
    return SourceItem(
        id=mail.id, source=EMAIL, title=mail.subject, body=f"{mail.subject}.\n\nThanks,\n{mail.sender}",
        url=f"mid:{mail.name}@mail.example", created_at=mail.created, updated_at=mail.created,
        requester=Person(id=mail.sender, name=mail.sender.split("@")[0].title()),
        raw={"from": mail.sender, "domain": mail.sender.rpartition("@")[2]},
    )


def _events(mail: Mail) -> list[TimelineEvent]:
    out: list[TimelineEvent] = []

    def add(kind: EventKind, hours: float | None, **data: object) -> None:
        if hours is None:
            return
        actor = SUPPORT
        out.append(TimelineEvent(
            uid=f"{mail.name}:{kind.value}", item_id=mail.id, kind=kind, at=mail.created + timedelta(hours=hours),
            actor_id=actor, actor_name="Support", body="Thanks, we are on it." if kind is EventKind.MESSAGE else "",
            source=EMAIL, data={"team": True, **data},
        ))

    add(EventKind.MESSAGE, mail.answered_after)
    add(EventKind.PENDING, mail.pending_after)
    add(EventKind.BACKLOG, mail.backlogged_after)
    add(EventKind.CLOSED, mail.closed_after, reason="completed")
    return out


def build(
    db: Path, *, customers: dict[str, CustomerConfig] | None = None, target: str | Path | None = None
) -> tuple[Settings, Store]:
    """A store at ``db`` (or at ``target``, e.g. a PostgreSQL URL) holding :data:`MAILS`,
    assembled with :func:`settings`."""
    cfg = settings(db, customers=customers)
    store = Store.open(target or db, key_prefix=cfg.ui.key_prefix)
    store.apply(
        "email",
        items=[_item(m) for m in MAILS],
        events=[e for m in MAILS for e in _events(m)],
        assembler=make_assembler(cfg, NOW, rules=rulebook(cfg)),
        now=NOW,
    )
    return cfg, store


def by_name(name: str) -> Mail:
    """The thread called ``name``."""
    return next(m for m in MAILS if m.name == name)
