"""One base error for everything a user can cause.

The CLI turns a ``GanforgeError`` into a one-line message and exit code 1; any
other exception is a bug in ganforge and keeps its traceback.
"""


class GanforgeError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


class DataError(GanforgeError):
    """A data source or data-set file that cannot be used."""


class CheckpointError(GanforgeError):
    """A checkpoint that is missing, corrupt or of an unknown format."""


class ConfigError(GanforgeError):
    """Options that do not fit together (e.g. a data set whose size the model cannot make)."""


class DownloadError(GanforgeError):
    """A file that could not be fetched or failed its checksum."""
