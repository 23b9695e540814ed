"""Pieces every stage shares: the workspace layout, atomic file writes, user-facing errors."""
