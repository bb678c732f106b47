"""The one exception type the command line turns into a one-line error and a non-zero exit."""


class CodesignError(Exception):
    """A problem with the user's input or environment; the message names it and the fix."""


def one_line(err: BaseException) -> str:
    """A library exception's message folded onto one line, prefixed by its type."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"
