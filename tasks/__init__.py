"""Prefect tasks: each a thin wrapper over one ``floor`` function, with its retries and caching."""

from prefect import task
from prefect.cache_policies import NO_CACHE


def floor_task(**options):
    """Prefect's ``@task`` for the floor's steps, never cached.

    Every step has effects or reads state that moves, so a cached result would be wrong; and
    working out a cache key hashes the inputs and reads the task's source on every run (a fifth of
    a second for a task given a batch of prices).
    """
    return task(cache_policy=NO_CACHE, **options)
