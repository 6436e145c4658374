"""End-to-end flows: the installed command, a real server, the whole corpus."""
