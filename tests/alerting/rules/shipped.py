"""The rules of infra/alerts.yaml, in file order: the spec's four, then its AI task targets."""

TASK_RULES = ["slow_task_creation", "slow_task_execution", "slow_queue_processing", "low_task_completion"]
SHIPPED_RULES = ["high_response_time", "high_error_rate", "memory_threshold", "task_queue_backup", *TASK_RULES]
