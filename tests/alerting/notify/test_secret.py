from __future__ import annotations

from alerting.notify.secret import Secret, redact_text, redact_url


def test_secret_never_prints() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret) and "hunter2" not in f"{secret!r}"
    assert secret.reveal() == "hunter2" and bool(secret) and not Secret("")


def test_redact_url_keeps_only_scheme_host_port() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/****"
    assert redact_url("http://user:pw@127.0.0.1:9093/") == "http://127.0.0.1:9093/"
    assert redact_url(Secret("http://h:1/hook?token=abc")) == "http://h:1/****"
    assert redact_url("not a url") == "****"


def test_redact_text_masks_secrets_and_secret_urls() -> None:
    url = Secret("http://127.0.0.1:9/hook?token=abcdef")
    text = "cannot connect to http://127.0.0.1:9/hook?token=abcdef with key sekrit-key"
    assert redact_text(text, (url, "sekrit-key")) == "cannot connect to http://127.0.0.1:9/**** with key ****"
