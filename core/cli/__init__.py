"""`python -m core ...`: the parser and main (main), and one module per command group: train,
pretrain, sample, eval and runs (main), heads and lens (heads), whosaid and attribution (speak),
ladder (ladder). Nothing else in core imports it; the pages never do."""
