"""Versioning engine."""
