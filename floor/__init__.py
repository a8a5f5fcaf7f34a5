"""Trading Floor's domain core.

Pure Python: importing anything under ``floor`` opens no connection, reads no ``.env`` and
creates no table. Engines, clients and settings are built by factories that entry points call.
This package never imports Prefect, Dash, ``flows``, ``tasks``, ``servers`` or ``dashboard``.
"""
