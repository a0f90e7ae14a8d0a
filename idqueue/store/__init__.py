"""The store: SQLite (default) or PostgreSQL (team mode), the same queries on both."""
