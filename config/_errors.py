"""The root of every error Loa raises on purpose (DESIGN.md §9)."""


class LoaError(Exception):
    """Base of all Loa errors. The CLI prints its message on one line and exits non-zero.

    ``exit_code`` is 2 for a problem with the user's input (a file, a field, a value)
    and 1 for a failure of the environment or a peer (a tool missing, storage down).
    """

    exit_code: int = 1


class UserInputError(LoaError):
    """The user's input is wrong: the message names the file, field or value."""

    exit_code = 2


class ConfigError(UserInputError):
    """The configuration file or an override is invalid."""
