"""The ingest stages, one module each, every one exposing run(ctx) -> None (a batch stage,
write_messages, exposes run_batch(ctxs) instead)."""
