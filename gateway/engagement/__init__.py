"""Engagement by mail: reactions, thanks and accepted answers, counted instead of sent
on to every member (they are what a network runs on, and what makes lists noisy)."""
