"""The Compare page's own parts: who said it by passage length (attribution) and the speakers' style words (style)."""
