"""Alerting, in two parts that run in different stages.

- :mod:`alerting.rules`: the rules file, the state machine and pure evaluation; the stream stage
  evaluates rules at window closes with it.
- :mod:`alerting.notify`: the notifier stage (the ``alerts`` topic in, notifications out) and its
  channels (webhook, Slack, PagerDuty, email, Alertmanager), grouping, silences and inhibition.

This package imports only ``schemas`` and third-party libraries.
"""
