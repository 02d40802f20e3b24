"""The Generate page's own parts: who said each generated text, scored by every speaker's model (who_said)."""
