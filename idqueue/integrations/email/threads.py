"""Threading mail into requests: which thread (request) a message belongs to.

A message joins a thread, in this order:

1. its own ``Message-ID`` is known (read again after a resync);
2. an id in ``In-Reply-To`` or ``References`` (newest first) is a known message (RFC 5322 §3.6.4);
3. **fallback for replies that break threading** (clients that drop ``References``, replies
   written as new mail): the same normalised subject (``Re:``/``Fwd:``/``AW:``/``[tags]``
   removed, case and spaces folded), from the same customer domain (the sender's, or for the
   team's mail a recipient's), whose last message is at most ``window_days`` old. A team
   member's mail matches any domain of the thread.

Otherwise it starts a thread whose root is the first id of its ``References`` (the thread's
first message, even when that message is older than what was read), else its own id. The index
is kept in the source's cursor (JSON), so threading holds across polls and resyncs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from idqueue.domain.models import parse_iso
from idqueue.integrations.email.parse import ParsedMail

MAX_MESSAGES = 200_000
"""Message ids remembered (the oldest threads are forgotten first beyond this)."""

_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|tr|rif|antw)\s*(?:\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)+",
                     re.IGNORECASE)


def normalise_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and list tags, case and spaces folded."""
    return " ".join(_PREFIX.sub("", subject).split()).casefold()


@dataclass
class ThreadInfo:
    """What the fallback needs to know of one thread."""

    subject: str
    domains: list[str]
    last_at: datetime

    def dump(self) -> list[Any]:
        """JSON form."""
        return [self.subject, self.domains, self.last_at.isoformat()]


@dataclass
class ThreadIndex:
    """Message id → thread root, and the fallback's facts per thread (the ``threads`` cursor)."""

    roots: dict[str, str] = field(default_factory=dict)
    threads: dict[str, ThreadInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, value: Any) -> ThreadIndex:
        """The stored index, skipping anything malformed."""
        index = cls()
        if not isinstance(value, dict):
            return index
        roots = value.get("roots")
        if isinstance(roots, dict):
            index.roots = {str(k): str(v) for k, v in roots.items() if isinstance(v, str)}
        threads = value.get("threads")
        if isinstance(threads, dict):
            for root, entry in threads.items():
                try:
                    at = parse_iso(entry[2])
                    if at is not None:
                        index.threads[str(root)] = ThreadInfo(str(entry[0]), [str(d) for d in entry[1]], at)
                except (TypeError, ValueError, IndexError):
                    continue
        return index

    def dump(self) -> dict[str, Any]:
        """The JSON cursor value."""
        if len(self.roots) > MAX_MESSAGES:
            self._forget_oldest()
        return {"roots": self.roots, "threads": {r: t.dump() for r, t in self.threads.items()}}

    def _forget_oldest(self) -> None:
        order = sorted(self.threads, key=lambda r: self.threads[r].last_at)
        gone: set[str] = set()
        while len(self.roots) > MAX_MESSAGES and order:
            root = order.pop(0)
            gone.add(root)
            del self.threads[root]
            self.roots = {m: r for m, r in self.roots.items() if r not in gone}

    def find(self, mail: ParsedMail, *, at: datetime, team: bool, window_days: int) -> str | None:
        """The root of the known thread this message belongs to, or None (see the module doc)."""
        if mail.message_id in self.roots:
            return self.roots[mail.message_id]
        for ref in [*mail.in_reply_to, *reversed(mail.references)]:
            if ref in self.roots:
                return self.roots[ref]
        return self._fallback(mail, at=at, team=team, window_days=window_days)

    def _fallback(self, mail: ParsedMail, *, at: datetime, team: bool, window_days: int) -> str | None:
        subject = normalise_subject(mail.subject)
        if window_days <= 0 or not subject:
            return None
        window = timedelta(days=window_days)
        domains = {a.rpartition("@")[2] for a in mail.to} if team else {mail.sender_domain}
        best: tuple[datetime, str] | None = None
        for root, info in self.threads.items():
            if info.subject != subject or abs(at - info.last_at) > window:
                continue
            if not domains & set(info.domains):
                continue
            if best is None or info.last_at > best[0]:
                best = (info.last_at, root)
        return best[1] if best is not None else None

    def start(self, mail: ParsedMail, *, at: datetime, domain: str) -> str:
        """Record a new thread started by this message; returns its root id."""
        root = mail.references[0] if mail.references else (mail.in_reply_to[0] if mail.in_reply_to else mail.message_id)
        if root in self.threads:  # the referenced root is a known thread after all
            root = mail.message_id
        self.roots[mail.message_id] = root
        self.roots.setdefault(root, root)
        self.threads[root] = ThreadInfo(normalise_subject(mail.subject), [domain] if domain else [], at)
        return root

    def join(self, mail: ParsedMail, root: str, *, at: datetime, domain: str | None) -> None:
        """Record that this message belongs to the thread ``root``."""
        self.roots[mail.message_id] = root
        info = self.threads.get(root)
        if info is None:
            return
        info.last_at = max(info.last_at, at)
        if domain and domain not in info.domains:
            info.domains.append(domain)
