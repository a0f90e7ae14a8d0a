"""Write-back: the durable outbox that carries triage actions to each system exactly once.

* :mod:`idqueue.outbox.service` — :class:`~idqueue.outbox.service.Actions`, the verbs the TUI
  and the CLI call (plan for previews, enqueue for real); each home of a request plans its own
  steps through its integration's planner (:mod:`idqueue.integrations.planning`);
* :mod:`idqueue.outbox.dispatcher` — :class:`~idqueue.outbox.dispatcher.Dispatcher`, which sends
  queued actions in order through the integrations' writers, retries, and reconciles after
  crashes;
* :mod:`idqueue.outbox.backlog` — which registered backlog destination a request goes to when
  it cannot be backlogged in place.
"""
