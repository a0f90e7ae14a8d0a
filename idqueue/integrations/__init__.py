"""One package per outside system (Slack, GitHub), behind the shared contract in ``base``."""
