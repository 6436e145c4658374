"""The `gateway` admin command (click): one module per noun."""
