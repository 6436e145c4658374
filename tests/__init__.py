"""The test suite: real SMTP on loopback, real SQLite and PostgreSQL, the shared corpus."""
