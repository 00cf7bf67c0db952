"""Operator tools: backup and restore, logs, metrics and monitoring, config and integration checks."""
