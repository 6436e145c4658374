"""Mail primitives: parsing, sanitizing, charsets, file names, addresses, headers."""
