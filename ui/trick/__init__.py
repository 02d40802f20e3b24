"""The Trick page's own part: the three ways to average the past, drawn in the browser."""
