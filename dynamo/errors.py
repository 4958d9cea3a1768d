"""The sync's errors: every one is a :class:`SyncError`, so a caller catches one class.

Each message is one line that says what failed and what will fix it; the CLI prints
it as is. The second base keeps ``except ValueError`` / ``except RuntimeError`` of
older callers working.

>>> issubclass(WriteError, SyncError) and issubclass(ConfigError, ValueError)
True
>>> str(WriteError("gave up on clients_info", {"clients_info": [7]}))
'gave up on clients_info'
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the sync raises on purpose."""


class ConfigError(SyncError, ValueError):
    """A configuration value is missing or invalid."""


class ExtractError(SyncError, RuntimeError):
    """A statement failed, was aborted, timed out, or could not be read.

    ``str(error)`` is one line that names the statement and the warehouse's message.
    """


class ShapeError(SyncError, ValueError):
    """A row does not fit the item layout (a NULL figure, a month out of range...)."""


class TableError(SyncError, RuntimeError):
    """A table exists with another key schema, or did not become ACTIVE."""


class WriteError(SyncError, RuntimeError):
    """Items could not be written after every retry.

    ``not_written`` maps each table to the clientids whose items were not written.
    """

    def __init__(self, message: str, not_written: dict[str, list[int]]) -> None:
        super().__init__(message)
        self.not_written = not_written


class PruneRefused(SyncError, RuntimeError):
    """The sync result does not prove which clients exist, or the prune deletes too many."""


class ReadError(SyncError, RuntimeError):
    """DynamoDB reads (``contabyx-etl verify``) failed after every retry."""


class RunInProgress(SyncError, RuntimeError):
    """Another run holds the sync's lease: only one run at a time, on any machine."""


class LeaseLost(SyncError, RuntimeError):
    """This run no longer holds the sync's lease: it must not advance any state."""
