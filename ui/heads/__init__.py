"""The Inside-the-heads page's own parts: the head table, ablations and the logit lens (sections)."""
