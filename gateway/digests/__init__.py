"""Digests: one daily or weekly mail per person across their communities, sent once per period."""
