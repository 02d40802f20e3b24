"""Podium's engine: speeches -> characters -> batches -> bigram and GPT -> training ->
checkpoints -> sampling. Never imports streamlit; the pages, the CLI and the tests share it."""
