"""deploy/grafana/dashboards/durable-assistants.json asks Prometheus only for metrics the
workers export, under the names they have when scraped."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy.deploy_files import DEPLOY
from workers.metrics import METRIC_NAMES

# The Temporal SDK's own metrics the dashboard uses, as the Python SDK's runtime exports them
# (counters without a _total suffix, durations in seconds).
TEMPORAL_SDK_METRICS = frozenset(
    {
        "temporal_workflow_completed",
        "temporal_workflow_failed",
        "temporal_activity_execution_failed",
        "temporal_activity_schedule_to_start_latency",
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_worker_task_slots_available",
        "temporal_sticky_cache_size",
        "temporal_request_failure",
    }
)
HISTOGRAMS = frozenset(
    {
        "durable_assistants_run_duration_seconds",
        "durable_assistants_run_wait_seconds",
        "durable_assistants_tool_call_duration_seconds",
        "durable_assistants_pacing_wait_seconds",
        "temporal_activity_schedule_to_start_latency",
        "temporal_workflow_task_schedule_to_start_latency",
    }
)
KNOWN = METRIC_NAMES | TEMPORAL_SDK_METRICS
# A metric name in PromQL is an identifier followed by a selector or a range, or a bare
# identifier inside a function call: catch both by the prefixes, and any selector.
PREFIXED = re.compile(r"\b(?:durable_assistants|temporal)_[a-z0-9_]+\b")
SELECTED = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*[{\[]")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "durable-assistants.json").read_text()
    )
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def exprs() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def metric(name: str) -> str:
    """The metric a series name belongs to (a histogram's _bucket, _sum and _count series)."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def metrics_in(expr: str) -> set[str]:
    return {metric(name) for name in PREFIXED.findall(expr) + SELECTED.findall(expr)}


def test_queries_use_only_exported_metric_names() -> None:
    for expr in exprs():
        unknown = metrics_in(expr) - KNOWN
        assert not unknown, f"{unknown} in {expr}"


def test_every_query_asks_for_a_project_or_temporal_metric() -> None:
    assert exprs()
    for expr in exprs():
        assert metrics_in(expr) & KNOWN, expr


def test_the_name_check_catches_a_wrong_name() -> None:
    assert metrics_in("sum(rate(durable_assistants_runs[5m]))") - KNOWN
    assert metrics_in('max(up{job="x"})') - KNOWN
    assert metrics_in("histogram_quantile(0.5, rate(temporal_workflow_failed_bucket[1m]))") - KNOWN
    assert not metrics_in("rate(durable_assistants_run_wait_seconds_sum[5m])") - KNOWN


def test_every_project_metric_and_the_sdk_health_signals_are_on_the_dashboard() -> None:
    used = set().union(*(metrics_in(expr) for expr in exprs()))
    assert used >= METRIC_NAMES, METRIC_NAMES - used
    assert {
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_activity_schedule_to_start_latency",
        "temporal_worker_task_slots_available",
        "temporal_sticky_cache_size",
    } <= used


def test_histograms_are_read_as_histograms() -> None:
    for expr in exprs():
        for name in PREFIXED.findall(expr):
            if name in HISTOGRAMS:
                raise AssertionError(f"{name} without _bucket/_sum/_count in {expr}")
        if "histogram_quantile" in expr:
            assert "_bucket[" in expr, expr
            assert "by (le" in expr, expr


def test_run_durations_and_waits_are_split_as_promised() -> None:
    joined = "\n".join(exprs())
    for quantile in ("0.5", "0.95"):
        by_backend = f"histogram_quantile({quantile}, sum by (le, backend) (rate("
        assert by_backend + "durable_assistants_run_duration_seconds_bucket" in joined
    assert "sum by (waiting_for)" in joined
    assert "sum by (status, backend) (rate(durable_assistants_runs_total" in joined
    assert "sum by (tool, outcome)" in joined
    assert "sum by (status_code)" in joined
    assert "sum by (model, kind)" in joined
    # every worker reports the fleet-wide count: the max, never a sum
    assert "max(durable_assistants_conversations_open)" in joined
    assert "sum(durable_assistants_conversations_open" not in joined


def test_panels_are_well_formed_and_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]["uid"]
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": provisioned}, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["gridPos"]["w"] <= 24
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    assert dashboard()["uid"] == "durable-assistants"
