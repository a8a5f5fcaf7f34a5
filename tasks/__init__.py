"""Prefect tasks: each a thin wrapper over one ``floor`` function, with its retries and caching."""
