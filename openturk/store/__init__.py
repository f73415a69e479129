"""Persistence: schema, migrations, engine set-up. The database is the state and the lock."""
