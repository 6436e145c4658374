"""The running gateway: serve, the background loops, wake-ups, the scheduler."""
