"""Moving in and out: mail archives and documents imported as posts, communities exported."""
