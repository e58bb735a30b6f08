"""Text that came from a port (exception messages, captured output), made safe to print and to
store: capped in length, never raising while it is turned into a string."""

from __future__ import annotations

import traceback

CAPTURE_LIMIT = 4000  # bytes of captured output kept per case (head and tail): within a report's message cap
MESSAGE_LIMIT = 3000  # characters of an exception's message kept (head and tail)


def safe_text(thing, limit: int = MESSAGE_LIMIT) -> str:
    """``str(thing)`` capped to ``limit`` characters; never raises (a ``__str__`` may)."""
    try:
        text = str(thing)
    except Exception as exc:
        text = f"<unprintable {type(thing).__name__}: its __str__ raised {type(exc).__name__}>"
    return cap_text(text, limit)


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)`` of the innermost frame, on one logical line, capped; never raises."""
    try:
        frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    except Exception:
        where = ""
    if isinstance(exc, SystemExit):
        code = safe_text(exc.code, 200)
        return f"the adapter called sys.exit({code}){where}: samspec never takes an exit from adapter code"
    return f"{type(exc).__name__}: {safe_text(exc)}{where}"


def cap_text(text: str, limit: int = CAPTURE_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters, keeping its head and tail and saying how much went."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters cut ...]\n{text[-half:]}"
