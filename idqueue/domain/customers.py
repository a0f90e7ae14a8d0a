"""Which customer a mail address or domain belongs to.

Customers are configured with mail domains (``acme.com``, which covers ``eu.acme.com`` too) and
single addresses (a contractor writing from ``gmail.com``). An address listed under a customer
wins over any domain; among domains the most specific one wins, so ``eu.acme.com`` can belong to
another customer than ``acme.com``. Pure: no I/O, case-insensitive.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr

from idqueue.config import CustomerConfig

__all__ = ["customer_for"]


def _normalise(address_or_domain: str) -> tuple[str | None, str]:
    """``(address, domain)`` of an address (``Jane <jane@Acme.com>`` too) or a bare domain."""
    text = address_or_domain.strip()
    if "<" in text or " " in text:
        text = parseaddr(text)[1] or text
    text = text.strip().strip("<>").lower().rstrip(".")
    if "@" in text:
        return text, text.rpartition("@")[2]
    return None, text.lstrip("@")


def customer_for(address_or_domain: str, customers: Mapping[str, CustomerConfig]) -> str | None:
    """The key of the customer an address or domain belongs to, or None.

    Args:
        address_or_domain: ``jane@acme.com``, ``Jane <jane@acme.com>``, ``acme.com`` or
            ``@acme.com``; any case.
        customers: the configured customers (key → config, domains and addresses lower-cased).

    Returns:
        The customer key: the one listing the exact address, else the one with the longest
        domain equal to, or a parent of, the address's domain; None when no customer matches.
    """
    address, domain = _normalise(address_or_domain)
    if not domain:
        return None
    if address is not None:
        for key, customer in customers.items():
            if address in customer.addresses:
                return key
    best: tuple[int, str] | None = None
    for key, customer in customers.items():
        for owned in customer.domains:
            if domain == owned or domain.endswith("." + owned):
                if best is None or len(owned) > best[0]:
                    best = (len(owned), key)
    return best[1] if best else None
