"""Trello: the customers' backlog boards. Backlogging a request creates one card on its
customer's board (``writer``); card moves and comments are read back from the boards' actions
(``source``); ``emulator`` is the loopback Trello the sandbox and the tests talk to.

``INTEGRATION`` is its entry in the registry (:mod:`idqueue.integrations.registry`); importing
this package imports nothing else of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idqueue.integrations.registry import Integration

if TYPE_CHECKING:
    from idqueue.config import Settings


def _writable(settings: Settings) -> bool:
    return settings.trello.key is not None and settings.trello.token is not None


def _configured(settings: Settings) -> bool:
    """The reader runs when it can log in and some customer has a board to read."""
    return _writable(settings) and any(c.trello_board for c in settings.customers.values())


INTEGRATION = Integration(
    name="trello",
    display="Trello",
    code="T",
    id_prefix="trello:",
    home_noun="Trello card",
    roster_field="",
    configured=_configured,
    writable=_writable,
    source="idqueue.integrations.trello.source:TrelloSource",
    writer="idqueue.integrations.trello.writer:TrelloWriter",
    checks="idqueue.integrations.trello.checks:doctor_checks",
    fold="idqueue.integrations.trello.fold:TrelloRules",
    verbs=frozenset({"backlog"}),
    backlog_noun="the backlog card",
    backlog="idqueue.integrations.trello.backlog:TrelloBacklog",
)
