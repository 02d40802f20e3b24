"""Podium's engine: the GPT, its training and everything the pages teach with. Never imports streamlit.

The ground floor (this folder) holds what every room may use: errors (UserError and its kinds),
config (the model and training settings, declared once), settings (CLI flags and forms derived from
them), device (where and in which dtype tensors run), limits (how long an input may be). The rooms,
each importing only the ground floor and the rooms listed before it:

    text/     characters: the speeches, the tokenizer, splits and batches
    model/    the models (GPT, bigram), sampling and scoring them
    train/    the training loop and its processes            } neither imports the other,
    probe/    reading a trained model: attention, heads, lens } and neither touches a file
    runs/     runs on disk: records, checkpoints, starting them, which run is whose model
    lessons/  what the pages teach with, built on the rooms above
    cli/      `python -m core ...`
tests/unit/test_rooms.py holds them to it."""
