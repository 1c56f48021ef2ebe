"""Serving: a local HTTP server per model version (a separate process) and its launcher."""
