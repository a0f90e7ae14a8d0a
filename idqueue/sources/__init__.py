"""Source adapters (GitHub, Slack) behind one abstract base."""
