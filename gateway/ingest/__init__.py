"""Ingest: from the bytes of one inbound mail to stored, threaded posts (a pipeline of stages)."""
