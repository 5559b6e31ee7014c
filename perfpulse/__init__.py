"""perfpulse's composition root: settings, the CLI, the all-in-one runner. Stages live beside it."""

__version__ = "0.1.0"
