"""The static archive: every public thread as HTML pages, feeds and a search index."""
