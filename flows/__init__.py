"""Prefect flows: orchestration only, the order in which tasks are called."""
