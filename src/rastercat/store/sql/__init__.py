"""The catalog database through SQLAlchemy Core: SQLite (embedded default) or PostgreSQL."""
