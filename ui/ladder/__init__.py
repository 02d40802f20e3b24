"""The Build-it-up page's own part: the ladder's chart, table and gains (view)."""
