"""The Generate page's own parts: who said each generated text, scored by every speaker's model
(who_said); the generations this server has already written, read back on a first visit (remembered)."""
