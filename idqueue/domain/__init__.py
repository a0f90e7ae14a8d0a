"""Pure domain logic: models, intake parsing, classification, SLA, priority, templates, metrics.

Nothing in this package performs I/O or imports textual.
"""
