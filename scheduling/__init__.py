"""Scheduling: pure domain rules for 1-1 chats and the storage that enforces them."""
