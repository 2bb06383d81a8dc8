"""Prefect tasks: thin wrappers around isletflow functions. They pass paths, not connections."""
