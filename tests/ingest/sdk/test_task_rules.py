"""The default rules file's task rules (infra/alerts.yaml) on the series emitter.task records: each
fires for the task type that misses the spec's target and stays quiet for the one that meets it."""

from __future__ import annotations

from pathlib import Path

from alerting.rules import load_rules
from alerting.rules.testing import run_rule_tests_text

RULES = Path(__file__).resolve().parents[3] / "infra" / "alerts.yaml"

# Value k of a series is its window's observation at k x 10 s; "_" is a window without one.
CASES = """
window: 10s
tests:
  - name: slow creation, slow runs, long queue waits and failing runs of one task type
    input_series:
      - series: 'ai.task.creation_time{service="assistant", task_type="summarize", priority="high"}'
        values: "300 2500 2600 2700"
      - series: 'ai.task.creation_time{service="assistant", task_type="embed", priority="low"}'
        values: "300 300 300 300"
      - series: 'ai.task.duration{service="assistant", task_type="summarize", priority="high", outcome="completed"}'
        values: "4000 22000 23000 24000"  # with the failed runs: 11,030 ms and up on average
      - series: 'ai.task.duration{service="assistant", task_type="summarize", priority="high", outcome="failed"}'
        values: "_ 50 60 70"
      - series: 'ai.task.duration{service="assistant", task_type="embed", priority="low", outcome="completed"}'
        values: "900 900 900 900"
      - series: 'ai.task.queue_wait{service="assistant", task_type="summarize", priority="high"}'
        values: "20 400 500 600"
      - series: 'ai.task.queue_wait{service="assistant", task_type="embed", priority="low"}'
        values: "20 20 20 20"
    alert_rule_test:
      - eval_time: 0s
        alertname: slow_task_creation
        exp_alerts: []
      - eval_time: 20s
        alertname: slow_task_creation
        exp_alerts:
          - labels: {service: assistant, task_type: summarize, severity: warning}
      - eval_time: 20s
        alertname: slow_task_execution
        exp_alerts:
          - labels: {service: assistant, task_type: summarize}
      - eval_time: 20s
        alertname: slow_queue_processing
        exp_alerts:
          - labels: {service: assistant, task_type: summarize}
            annotations:
              summary: "summarize tasks of assistant wait 500 ms in the queue at p95 (limit 100 ms)"
      - eval_time: 0s
        alertname: low_task_completion
        exp_alerts: []
      - eval_time: 20s
        alertname: low_task_completion
        exp_alerts:
          - labels: {service: assistant, task_type: summarize, severity: critical}
"""


def test_the_task_rules_fire_for_the_type_that_misses_its_targets_only() -> None:
    report = run_rule_tests_text(load_rules(RULES), CASES)
    assert report.errors == [] and [str(f) for f in report.failures] == []
    assert report.tests == 1 and report.ok
