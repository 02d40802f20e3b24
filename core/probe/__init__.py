"""Probes: read a trained model and return plain data: attention weights and their stages, each
head's pattern scores and worth, the logit lens, embeddings. Loads no file and trains nothing:
callers hand in a model and a text."""
