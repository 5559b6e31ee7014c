"""Alerting, in two parts that run in different stages.

- :mod:`alerting.rules`: the rules of the rules file, the state machine and pure evaluation; the
  stream stage evaluates rules at window closes with it.
- :mod:`alerting.notify`: the notifier stage (the ``alerts`` topic in, notifications out) and its
  channels (read from the same rules file, with ``${VAR}`` and secrets: webhook, Slack, PagerDuty,
  email, Alertmanager), grouping, silences and inhibition.

Imports go one way: ``alerting.notify`` uses ``alerting.rules`` (alerts, the file's reader), never
the reverse, so evaluating rules loads nothing of notification. Both import only ``schemas`` besides
third-party libraries; the notifier's storage comes in through a protocol (:mod:`alerting.notify.store`).
"""
