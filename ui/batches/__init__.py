"""The Batches page's own part: the batch widget drawn in the browser."""
