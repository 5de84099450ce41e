"""Duet signaling package."""
