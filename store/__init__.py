"""The store: SQLModel tables, engine and sessions, migrations, typed repository functions."""
