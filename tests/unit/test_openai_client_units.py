"""Pieces of the HTTP client that need no server."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import tenacity

from tinytroupe.clients.openai_client import OpenAICompatibleClient, _honour_retry_after, _shown


def test_urls_in_messages_carry_no_credentials_or_query() -> None:
    assert _shown("https://user:pw@example.test:8443/v1/chat?key=abc") == \
        "https://example.test:8443/v1/chat"
    client = OpenAICompatibleClient(url="http://u:secret@127.0.0.1:9/v1/chat/completions",
                                    api_key="sk-hidden", model="m")
    assert "secret" not in client.url and "sk-hidden" not in repr(client)


def test_retry_after_is_honoured_up_to_the_cap_and_backoff_is_used_without_it() -> None:
    wait = _honour_retry_after(lambda _state: 0.123, cap=60.0)

    def state(exc: Exception) -> SimpleNamespace:
        outcome = SimpleNamespace(exception=lambda: exc)
        return SimpleNamespace(outcome=outcome)

    told = Exception()
    told.retry_after = 2.5
    greedy = Exception()
    greedy.retry_after = 86400.0
    assert wait(state(told)) == 2.5
    assert wait(state(greedy)) == 60.0
    assert wait(state(Exception())) == 0.123
    assert isinstance(tenacity.Retrying(wait=wait), tenacity.Retrying)


def test_the_transport_is_chosen_by_setting_and_need() -> None:
    from tinytroupe.clients import transport as transports

    def made(kind: str, abortable: bool = False) -> str:
        chosen = transports.make_transport(kind, "http://127.0.0.1:9/v1/chat/completions",
                                           "http://127.0.0.1:9", {}, 5.0, 1024,
                                           abortable=abortable)
        chosen.close()
        return chosen.name

    assert made("auto") == "curl"  # pycurl is a dependency
    assert made("auto", abortable=True) == "urllib3"  # hedged exchanges are cut short
    assert made("curl", abortable=True) == "urllib3"
    assert made("urllib3") == "urllib3"


def test_curl_without_pycurl_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinytroupe.clients import transport as transports

    monkeypatch.setattr(transports, "curl_available", lambda: False)
    with pytest.raises(ImportError, match="pycurl"):
        transports.make_transport("curl", "http://127.0.0.1:9/x", "x", {}, 5.0, 1024)
    fallback = transports.make_transport("auto", "http://127.0.0.1:9/x", "x", {}, 5.0, 1024)
    assert fallback.name == "urllib3"
