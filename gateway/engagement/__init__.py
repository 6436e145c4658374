"""Engagement by mail: reactions, thanks and accepted answers (issue 22)."""
