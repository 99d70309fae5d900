"""Errors that reach a user: each message names the file, row or column and the fix."""


class DataError(ValueError):
    """Input data cannot be imported as it is.

    The message names the file, and where it can, the row or column at fault
    and what to do about it. Nothing is imported when it is raised.
    """


class PoolExhaustedError(RuntimeError):
    """An active-learning strategy was asked for more items than remain unlabeled."""


class StoreError(RuntimeError):
    """The project store was asked for something it does not hold."""
