"""Duet media package."""
