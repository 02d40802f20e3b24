"""The Train page's own parts: the form, the live runs and their charts, the attention of the newest checkpoint."""
