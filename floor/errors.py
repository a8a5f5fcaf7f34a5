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
