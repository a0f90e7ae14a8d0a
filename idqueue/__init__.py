"""idqueue: the terminal workstation of a support triage rotation."""

__version__ = "0.1.0"
