"""Spellings of a remote image that a filter reading the markup, not the parsed value,
lets through (issue 16, item 5): each loads https://evil.example/ in a browser."""

from __future__ import annotations

# (name, markup)
REMOTE_IMAGE_SPELLINGS = [
    ("leading space", '<img src=" https://evil.example/1.png">'),
    ("leading tab", '<img src="\thttps://evil.example/2.png">'),
    ("entity colon", '<img src="https&#58;//evil.example/3.png">'),
    ("entity slashes", '<img src="https:&#x2F;&#x2F;evil.example/4.png">'),
    ("backslashes", '<img src="https:\\\\evil.example/5.png">'),
    ("newline inside", '<img src="ht\ntps://evil.example/6.png">'),
    ("> in an earlier attribute", '<img alt="a>b" src="https://evil.example/7.png">'),
]
