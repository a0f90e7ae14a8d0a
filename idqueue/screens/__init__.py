"""Textual screens: the queue and its modals (one main class per module)."""
