"""What the pages teach with, built on the rooms above: the mathematical trick, one-hot lookups,
n-gram counts, the lecture's ladder, style words, who said it (attribution) and speakers compared.
Each returns plain numbers for a page or the CLI to show; none draws."""
