"""Write-back: the durable outbox that carries triage actions to GitHub and Slack exactly once.

* :mod:`idqueue.outbox.service` — :class:`~idqueue.outbox.service.Actions`, the verbs the TUI
  and the CLI call (plan for previews, enqueue for real);
* :mod:`idqueue.outbox.dispatcher` — :class:`~idqueue.outbox.dispatcher.Dispatcher`, which sends
  queued actions in order, retries, and reconciles after crashes;
* :mod:`idqueue.integrations.github.writer` / :mod:`idqueue.integrations.slack.writer` — the
  destinations;
* :mod:`idqueue.outbox.backlog` — where Slack-only requests go when backlogged.
"""
