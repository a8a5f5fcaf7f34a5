"""Exceptions that say what the caller should do next."""


class FloorError(Exception):
    """Base class of every error the floor raises on purpose."""


class TradeRejected(FloorError):
    """A trade (or account change) was refused; nothing changed. Tell the agent, never retry."""


class TransientError(FloorError):
    """A temporary failure of something outside (network, provider, lock); retrying may help."""


class ConfigurationError(FloorError):
    """The floor is configured wrongly; stop and show the message to the user."""


class DataQualityError(FloorError):
    """Data failed a quality check and must not be used."""


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, for an error message.

    An error message quotes what it refuses so the reader can see the mistake, but never in full:
    a 4,000-digit number or a page of text comes back as its first few characters.
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
