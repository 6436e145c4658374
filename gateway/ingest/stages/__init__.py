"""The ingest stages, one module each, every one exposing run(ctx) -> None."""
