"""CLI sub-commands, grouped by area; :mod:`idqueue.cli` registers them."""
