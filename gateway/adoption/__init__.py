"""Adoption: who takes part, who knows what, which communities fit whom (issue 9)."""
