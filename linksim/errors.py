"""Errors that linksim reports to the user without a traceback (exit code 2)."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input: bad scenario, unknown name, missing file.

    The CLI prints ``linksim: error: <message>`` and exits with code 2. The message
    names the field path (``systems[1].params.order``) or the file (and line) at fault.
    """

    exit_code = 2


class DataUnavailableError(UserError):
    """A dataset is neither on disk nor downloadable (offline); names the path to use."""


class TrainingDiverged(Exception):
    """Training stopped because a loss became NaN or infinite.

    The message names the system, the stage, the objective, the epoch and the step. The
    CLI prints it as one line and exits with code 1 (the input was valid; the training
    settings did not work).
    """

    exit_code = 1
