"""Textual widgets of the queue screen (one main class per module)."""
