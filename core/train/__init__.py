"""Training: the loop (fit: batches, the optimizer, evaluations, typed events to callbacks) and its
processes under torchrun (distributed). Nothing here reads or writes a file, knows a run's folder or
looks inside a model: what to save is the caller's (core.runs.recorder)."""
