"""Slack: polling (``source``), Socket Mode events (``socket``) and write-backs (``writer``)."""
