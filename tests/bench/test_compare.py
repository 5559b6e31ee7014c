"""bench/compare.py: per-step answers are held against every step that has samples."""

from __future__ import annotations

import numpy as np
import pytest

from bench.compare import step_errors


def test_step_errors_median_and_largest_over_answered_steps() -> None:
    exact = np.array([100.0, np.nan, 200.0, 50.0])
    median, largest = step_errors({0: 101.0, 2: 200.0, 3: 55.0}, exact)
    assert median == pytest.approx(0.01)
    assert largest == pytest.approx(0.1)


def test_step_errors_ignore_answers_of_steps_without_samples() -> None:
    assert step_errors({0: 100.0, 1: 1e9}, np.array([100.0, np.nan])) == (0.0, 0.0)


def test_a_step_with_samples_but_no_answer_fails() -> None:
    with pytest.raises(RuntimeError, match="1 steps with samples were not answered, the first at step 2"):
        step_errors({0: 1.0, 1: 1.0}, np.array([1.0, 1.0, 1.0]))
