"""Errors the CLI turns into one line and exit code 2."""


class UsageError(Exception):
    """Bad input from the user: a missing file, a malformed problem. The message names the file and the fix."""


class Cancelled(Exception):
    """The caller cancelled the grading; every worker has been stopped."""
