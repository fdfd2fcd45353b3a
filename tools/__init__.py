"""Maintenance scripts run from the repository root (``python tools/<name>.py``); not shipped."""
