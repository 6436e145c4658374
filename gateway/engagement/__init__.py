"""Engagement by mail (issue 22): reactions, thanks and accepted answers."""
