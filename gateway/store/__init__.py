"""The store: models, engine and sessions, migrations."""
