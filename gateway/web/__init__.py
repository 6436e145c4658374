"""The web side of `gateway serve`: one-click unsubscribe (RFC 8058) and the archive folder."""
