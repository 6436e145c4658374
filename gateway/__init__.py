"""The community gateway's core: settings, store, mail in and out, digests."""
