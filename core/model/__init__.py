"""Models: the GPT (one block definition, swappable attention kernels) and the bigram table, built
from a ModelConfig; dropout; the KV-cache decoder and sampling; scoring a text (losses, surprisal).
Knows nothing of training, files or runs."""
