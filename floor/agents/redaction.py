"""Secrets never leave the process in words: every key the floor holds is masked in what it writes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from floor.settings import Settings

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
# Settings whose values are secrets: every *_api_key, *_token, the Pushover user key, and apprise
# URLs (they carry tokens).
SECRET_FIELD = re.compile(r"(_api_key|_token|_user|apprise_urls)$")
# Bearer tokens and provider-style keys seen in provider error texts, whoever's they are.
KEY_SHAPES = re.compile(r"(?i)(bearer\s+)[\w.\-~+/]{8,}|\b(sk|xai|gsk|AIza)[-_][\w\-]{8,}")
# What any text KEY_SHAPES matches contains (lower-cased): a text with none of these is not searched,
# which spares a scan of every long observation (a year of closes) for a key it cannot hold.
KEY_MARKS = ("bearer", "sk-", "sk_", "xai-", "xai_", "gsk-", "gsk_", "aiza-", "aiza_")


class Redactor:
    """Masks the given secrets, and anything shaped like an API key, in text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        found = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_LENGTH}
        self.secrets = sorted(found, key=len, reverse=True)  # longest first: no partial leftovers

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """A redactor for every secret in ``settings``."""
        values = [
            value
            for name, value in settings.model_dump().items()
            if SECRET_FIELD.search(name) and isinstance(value, str)
        ]
        return cls(values)

    def __call__(self, text: object) -> str:
        masked = str(text)
        for secret in self.secrets:
            masked = masked.replace(secret, MASK)
        lowered = masked.lower()
        if not any(mark in lowered for mark in KEY_MARKS):
            return masked
        return KEY_SHAPES.sub(lambda m: (m.group(1) or "") + MASK, masked)
