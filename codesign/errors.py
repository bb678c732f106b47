"""The one exception type the command line turns into a one-line error and a non-zero exit."""


class CodesignError(Exception):
    """A problem with the user's input or environment; the message names it and the fix."""


def one_line(err: BaseException, limit: int = 300) -> str:
    """A library exception's message folded onto one line, prefixed by its type, cut after `limit` characters."""
    text = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_error_line(output: str, marker: str = "error:") -> str:
    """The first line of a tool's output containing `marker`, else its last line (for one-line errors)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if marker in line), lines[-1] if lines else "no output")
