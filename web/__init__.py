"""Duet web package."""
