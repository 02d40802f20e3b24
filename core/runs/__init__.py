"""Runs on disk, the only code that writes under checkpoints/: the run record (record), the weights
files (checkpoints), the writer a trainer reports to (recorder), the one start path (start), progress
read back (metrics), which run is whose model (catalog), and a run scored on a speaker (evaluate).
Knows nothing of pages."""
