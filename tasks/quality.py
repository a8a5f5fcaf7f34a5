"""Great Expectations checks on what a cycle fetched and wrote."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from floor.errors import DataQualityError
from floor.market.feed import PriceBatch
from floor.quality import check_cycle
from tasks import floor_task, runtime


@floor_task(name="check-data-quality")
async def check_data_quality(cycle_id: int) -> bool:
    """Run the suites on prices, positions and snapshots; publish the results; fail on a failure."""
    report = await asyncio.to_thread(check_cycle, runtime.engine(), cycle_id)
    await acreate_markdown_artifact(
        key="data-quality",
        markdown=report.as_markdown(),
        description=f"Data-quality checks of cycle {cycle_id}",
    )
    if not report.success:
        failed = report.failure_summary()
        get_run_logger().error("Data-quality checks failed: %s", failed)
        raise DataQualityError(f"data-quality checks failed: {failed}")
    get_run_logger().info("All %d data-quality checks passed", len(report.results))
    return True


@floor_task(name="check-price-batch")
async def check_price_batch(batch: PriceBatch) -> bool:
    """Great Expectations on a fetched batch before it is used; a failure fails this task run."""
    from floor.market.checks import check_price_batch as run_checks

    if batch.origin == "cache":  # checked when it was fetched; only passing batches are cached
        return True
    jump_bound = runtime.settings().price_jump_bound
    report = await asyncio.to_thread(
        run_checks, batch.quotes, fresh_from=batch.fresh_from, previous=batch.previous, jump_bound=jump_bound
    )
    await acreate_markdown_artifact(
        key="price-batch-checks",
        markdown=report.as_markdown(),
        description=f"Checks of a {batch.source} batch",
    )
    if not report.success:
        failed = report.failure_summary()
        get_run_logger().error(
            "Price batch from %s failed its checks and is not used: %s", batch.source, failed
        )
        raise DataQualityError(f"the {batch.source} price batch failed its checks: {failed}")
    get_run_logger().info("Price batch from %s passed %d checks", batch.source, len(report.results))
    return True
