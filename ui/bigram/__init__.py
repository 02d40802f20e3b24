"""The Bigram page's own parts: its sections, and one-hot lookups with why counting stops scaling (counting)."""
