"""Which customer a mail address or domain belongs to.

Customers are configured with mail domains (``acme.com``, which covers ``eu.acme.com`` too) and
single addresses (a contractor writing from ``gmail.com``). An address listed under a customer
wins over any domain; among domains the most specific one wins, so ``eu.acme.com`` can belong to
another customer than ``acme.com``. Pure: no I/O, case-insensitive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.utils import parseaddr

from idqueue.config import CustomerConfig

__all__ = ["NO_CUSTOMER", "customer_for", "customer_of_request"]

NO_CUSTOMER = "-"
"""The hand-set customer that means "no customer" (a request from a customer's domain that is
not theirs); an override of None means "from the requester's address"."""


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


def customer_of_request(
    addresses: Iterable[str], override: str | None, customers: Mapping[str, CustomerConfig]
) -> str | None:
    """A request's customer: the hand-set one, else the first address that belongs to a customer.

    Args:
        addresses: the requester's mail addresses, most trusted first (the sender of a mail
            thread); anything without an ``@`` is skipped (a chat user id is not an address).
        override: the customer set by hand: a key, :data:`NO_CUSTOMER`, or None. A key that is
            no longer configured is ignored (the address decides again).
        customers: the configured customers.

    Returns:
        The customer key, or None.
    """
    if override == NO_CUSTOMER:
        return None
    if override and override in customers:
        return override
    if not customers:
        return None
    for address in addresses:
        if "@" in address:
            found = customer_for(address, customers)
            if found is not None:
                return found
    return None
