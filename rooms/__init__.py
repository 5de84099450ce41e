"""Duet rooms package."""
