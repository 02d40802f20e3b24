"""Errors by kind. A UserError is something the person at the page or the terminal can fix (a bad
setting, an unknown speaker, a file that is not a checkpoint, a character outside the vocabulary):
the pages show it as a message and the CLI prints `error: ...` and exits 2. Anything else is a bug
and surfaces as one (a traceback in the CLI, Streamlit's exception box in a page), so tests see it.

UserError derives from ValueError only so that `except ValueError` in callers keeps working; code
that shows messages catches UserError, never ValueError."""
from __future__ import annotations


class UserError(ValueError):
    """A problem the user can fix; the message says what to do."""


class RunBusy(UserError):
    """A run is being written by a live trainer: it cannot be resumed or trained by a second one."""


class SaveFailed(UserError):
    """A checkpoint or the run's record could not be written (disk full, no permission); the files
    written before are kept (every write goes to a temp file first)."""


class TrainingDiverged(UserError):
    """The loss stopped being a sensible number; the checkpoints written before it are kept."""
