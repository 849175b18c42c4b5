"""Errors raised for bad user input."""


class InputError(ValueError):
    """A user-supplied file or setting is unusable.

    The message always names the file (or config key) and the offending record,
    so that the user can find and fix it without reading a traceback.
    """
