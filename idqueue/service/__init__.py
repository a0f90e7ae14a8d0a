"""Team mode: the team's one service (``idqueue serve``) — sync, push receivers, outbox, web view.

Everything that talks to the outside world for the whole rotation runs here; clients of the
shared store only read the queue and queue actions.
"""
