"""The Attention page's own parts: the stage-by-stage story of one character and the widget drawn in the browser."""
