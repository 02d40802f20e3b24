"""Text: the speeches (corpus), characters and ids (tokenizer), train/val splits encoded with one
vocabulary (dataset), batches (batching), and the subword tokenizer it is compared with. Knows
nothing of models."""
