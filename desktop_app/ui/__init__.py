"""Ui engine."""
