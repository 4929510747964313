"""A client for any OpenAI-compatible chat-completions endpoint.

It speaks the wire format directly through a transport (`tinytroupe.clients.transport`:
libcurl handles, or a urllib3 pool): the request path is hot (a parallel step of 1,000
agents makes 1,000 requests from one process, under one GIL), and the typed SDK costs
several times the CPU.
Retries (exponential backoff with jitter, honouring ``Retry-After`` up to a cap) are
tenacity's; every attempt first passes the process-wide `ProviderGate`
(`tinytroupe.clients.limits`: adaptive concurrency, Retry-After pauses, requests and
tokens per window). Every error raised carries no API key (`tinytroupe.redaction`).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import tenacity
import urllib3

from tinytroupe import redaction
from tinytroupe.clients.cost import CostStats
from tinytroupe.clients.errors import LLMError, LLMRequestError, LLMTimeoutError
from tinytroupe.clients.hedging import Abort, HedgedCall, HedgeLost, HedgePolicy
from tinytroupe.clients.limits import ProviderGate, shared_gate
from tinytroupe.clients.transport import TransportError, make_transport
from tinytroupe.clients.usage import usage
from tinytroupe.sanitize import clean_text, utf8

logger = logging.getLogger("tinytroupe")

_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
#: A token count reported by an endpoint above this is nonsense, not usage.
_MAX_REPORTED_TOKENS = 100_000_000
#: Default bound on one response body (MAX_RESPONSE_BYTES).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Completion:
    """The assistant's answer to one chat-completions request."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Retryable(LLMRequestError):
    """A failure worth another attempt (429, 5xx, connection trouble, broken body)."""

    def __init__(self, message: str, status: int | None = None,
                 retry_after: float | None = None, timed_out: bool = False) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.timed_out = timed_out


class OpenAICompatibleClient(CostStats):
    """Chat completions over HTTP. Thread-safe; share one instance per endpoint.

    `complete()` returns a `Completion` or raises `LLMRequestError` (`LLMTimeoutError`
    when the last attempt timed out) once `max_attempts` are spent. The API key is
    sent in a header and kept out of ``repr``, logs and error messages.
    """

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        model: str,
        azure: bool = False,
        timeout: float = 60.0,
        max_attempts: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        backoff_factor: float = 2.0,
        max_concurrent_calls: int | None = None,
        gate: ProviderGate | None = None,
        pool_size: int = 1024,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        hedge_after: float | str | None = None,
        hedge_max_fraction: float = 0.1,
        transport: str = "auto",
    ) -> None:
        self.url = _shown(url)  # for messages: no credentials, no query string
        self.model = model
        redaction.register(api_key)
        api_key = api_key.strip()
        self._secret = api_key
        self.max_response_bytes = max_response_bytes
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.gate = gate or shared_gate(max_concurrent_calls, None, None, 60.0)
        self._expected_completion_tokens = 200.0  # running mean, for token-limit estimates
        self._headers = {"Content-Type": "application/json"}
        self._headers["api-key" if azure else "Authorization"] = (
            api_key if azure else f"Bearer {api_key}"
        )
        self.hedging = (HedgePolicy(hedge_after, hedge_max_fraction)
                        if hedge_after is not None else None)
        self.transport = make_transport(
            transport, url, self.url, self._headers, timeout, max_response_bytes, pool_size,
            abortable=self.hedging is not None)
        # A Retry-After is honoured up to this many seconds (a provider asking for a day
        # is capped, not obeyed blindly).
        self.retry_after_cap = max(retry_max_delay, 60.0)
        backoff = tenacity.wait_random_exponential(multiplier=retry_base_delay, max=retry_max_delay,
                                                   exp_base=backoff_factor)
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max_attempts),
            wait=_honour_retry_after(backoff, self.retry_after_cap),
            retry=tenacity.retry_if_exception_type(_Retryable),
            before_sleep=_count_retry,
            reraise=True,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(url={self.url!r}, model={self.model!r})"

    def complete(
        self, messages: list[dict[str, Any]], *, user: str | None = None,
        response_format: dict[str, Any] | None = None, **sampling: Any,
    ) -> Completion:
        """Send one chat-completions request, retrying transient failures.

        Whatever fails, the error raised is an `LLMError` whose message (and chained
        causes) carries no API key.
        """
        body = request_body(self.model, messages, None, sampling)
        if user:
            body["user"] = user
        payload = utf8(_with_format(json.dumps(body, ensure_ascii=False), response_format))
        estimate = len(payload) // 4 + int(self._expected_completion_tokens)
        attempt = self._attempt if self.hedging is None else self._hedged_attempt
        return self._send(attempt, payload, estimate, user, user=user, what="request")

    def _send(self, attempt: Any, *args: Any, user: str | None, what: str) -> Any:
        """Run `attempt(*args)` under the retry policy; any failure becomes a keyless `LLMError`.

        Shared by every endpoint this client speaks to (chat, embeddings): the one place
        where transport errors are mapped, redacted and counted as a failure.
        """
        try:
            return self._retrying(attempt, *args)
        except _Retryable as exc:
            kind = LLMTimeoutError if exc.timed_out else LLMRequestError
            error = kind(redaction.redact(f"{exc} (after {self.max_attempts} attempts)"),
                         status=exc.status, retry_after=exc.retry_after)
        except LLMError as exc:
            exc.args = (redaction.redact(str(exc)),)
            error = exc
        except Exception as exc:  # anything else (a library refusing a header, ...)
            error = LLMRequestError(redaction.redact(
                f"{what} to {self.url} failed: {type(exc).__name__}: {exc}"))
        usage.add(user, failures=1)
        # raised outside the except blocks: the original error, which may quote the key,
        # is neither the cause nor the context of what the caller sees
        raise error

    def _hedged_attempt(self, payload: bytes, estimate: int, user: str | None) -> Completion:
        """One attempt, sent a second time if it is slow (`tinytroupe.clients.hedging`)."""
        assert self.hedging is not None
        return HedgedCall(self.hedging, lambda abort, on_sent: self._attempt(
            payload, estimate, user, abort, on_sent), user).run()

    def _attempt(self, payload: bytes, estimate: int, user: str | None,
                 abort: Abort | None = None, on_sent: Any = None) -> Completion:
        counts: dict[str, float] = {"requests": 1}  # one usage update per attempt (a lock)
        try:
            with self.gate.slot(estimate) as slot:
                counts["throttled_seconds"] = slot.waited
                if on_sent is not None:
                    on_sent()
                try:
                    status, retry_after, body = self._exchange(payload, slot, counts, abort)
                except HedgeLost as lost:
                    counts["requests"] = int(lost.sent)
                    raise
                completion = _completion_from(status, retry_after, body, self.url,
                                              len(payload) // 4)
                slot.used_tokens(completion.prompt_tokens + completion.completion_tokens)
            counts["prompt_tokens"] = completion.prompt_tokens
            counts["completion_tokens"] = completion.completion_tokens
        finally:
            usage.add(user, **counts)
        self._expected_completion_tokens += 0.1 * (
            completion.completion_tokens - self._expected_completion_tokens)
        return completion

    def _exchange(self, payload: bytes, slot: Any, counts: dict[str, float],
                  abort: Abort | None = None) -> tuple[int, str | None, bytes]:
        """One POST inside a gate `slot`, its answer returned with the key scrubbed from it.

        A 429 is reported to the gate (which pauses for Retry-After) and counted.
        """
        status, retry_after, body = self._post(payload, abort)
        if status == 429:
            slot.rate_limited = True
            slot.used_tokens(0)  # rejected: the provider counted nothing
            counts["rate_limited"] = 1
            seconds = _retry_after_seconds(retry_after)
            if seconds:
                self.gate.pause(min(seconds, self.retry_after_cap))
        if self._secret:  # a proxy echoing the request must not leak the key
            body = body.replace(self._secret.encode(), b"[redacted]")
        return status, retry_after, body

    def _post(self, payload: bytes, abort: Abort | None = None
              ) -> tuple[int, str | None, bytes]:
        """One HTTP exchange on the transport, bounded as a whole by `timeout`.

        With an `abort`, the exchange raises `HedgeLost` if another thread cut it short.
        """
        try:
            return self.transport.post(payload, abort)
        except TransportError as exc:
            if not exc.retryable:
                raise LLMRequestError(str(exc)) from None
            raise _Retryable(str(exc), timed_out=exc.timed_out) from exc

    def close(self) -> None:
        """Close the HTTP connections; the client cannot send requests afterwards."""
        self.transport.close()


_encoded_formats: dict[int, tuple[dict[str, Any], str]] = {}


def _with_format(encoded_body: str, response_format: dict[str, Any] | None) -> str:
    """`encoded_body` (a JSON object) with ``response_format`` added.

    A structured call sends the same schema every time, so each format object is
    encoded once and spliced in, instead of re-encoding it with every request.
    """
    if response_format is None:
        return encoded_body
    known = _encoded_formats.get(id(response_format))
    if known is None or known[0] is not response_format:
        known = (response_format, json.dumps(response_format, ensure_ascii=False))
        if len(_encoded_formats) > 256:
            _encoded_formats.clear()
        _encoded_formats[id(response_format)] = known
    return f'{encoded_body[:-1]}, "response_format": {known[1]}}}'


def is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning models take ``reasoning_effort`` and no sampling settings."""
    return re.match(r"(o\d|gpt-5)", model.rsplit("/", 1)[-1]) is not None


def request_body(model: str, messages: list[dict[str, Any]],
                 response_format: dict[str, Any] | None, sampling: dict[str, Any]
                 ) -> dict[str, Any]:
    """The chat-completions request: sampling settings that are set and that `model` accepts.

    A reasoning model gets ``reasoning_effort`` and ``max_completion_tokens``; other models
    get temperature, top_p, penalties and ``max_tokens``.
    """
    body: dict[str, Any] = {"model": model, "messages": messages}
    reasoning = is_reasoning_model(model)
    for key, value in sampling.items():
        if value is None:
            continue
        if key == "max_tokens":
            body["max_completion_tokens" if reasoning else "max_tokens"] = value
        elif key == "reasoning_effort":
            if reasoning:
                body[key] = value
        elif not reasoning:
            body[key] = value
    if response_format is not None:
        body["response_format"] = response_format
    return body


def answer_json(status: int, retry_after: str | None, body: bytes, url: str, what: str
                ) -> Any:
    """The parsed JSON of an endpoint's answer (`what` it should be, for messages).

    Raises for an error status (`_Retryable` when worth another attempt), a body that is
    not JSON, or an error object in a 200 answer (some gateways send one).
    """
    if status != 200:
        message = f"{url} answered HTTP {status}: {_excerpt(body)}"
        if status in _RETRYABLE_STATUS:
            raise _Retryable(message, status=status,
                             retry_after=_retry_after_seconds(retry_after))
        raise LLMRequestError(message, status=status)
    try:
        data = json.loads(body)  # strings in it are cleaned by whoever uses them
    except (ValueError, RecursionError) as exc:
        raise not_a(url, what, status, exc) from None
    error = data.get("error") if isinstance(data, dict) else None
    if error:
        text = error.get("message", error) if isinstance(error, dict) else error
        raise _Retryable(f"{url} answered an error: {clean_text(str(text))[:300]}",
                         status=status)
    return data


def not_a(url: str, what: str, status: int, error: BaseException) -> _Retryable:
    """The retryable error for an answer whose body is not `what` it should be."""
    kind = "nested too deeply" if isinstance(error, RecursionError) else type(error).__name__
    return _Retryable(f"{url} answered a body that is not {what}: {kind}", status=status)


def _completion_from(status: int, retry_after: str | None, body: bytes, url: str,
                     prompt_estimate: int = 0) -> Completion:
    data = answer_json(status, retry_after, body, url, "a chat completion")
    try:
        content = data["choices"][0]["message"]["content"]
        if content is not None and not isinstance(content, str):
            raise TypeError("content is not a string")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        raise not_a(url, "a chat completion", status, exc) from None
    content = clean_text(content or "")
    used = data.get("usage")
    used = used if isinstance(used, dict) else {}
    prompt = _token_count(used.get("prompt_tokens"))
    completion = _token_count(used.get("completion_tokens"))
    return Completion(
        content=content,
        prompt_tokens=prompt if prompt is not None else prompt_estimate,
        completion_tokens=completion if completion is not None else len(content) // 4)


def _token_count(value: Any) -> int | None:
    """A reported token count, or None when it is missing or not a plausible count.

    (Not plausible: negative, fractional, infinite, huge.) With None the estimate is used.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0 or value > _MAX_REPORTED_TOKENS \
            or value != int(value):
        return None
    return int(value)


def _excerpt(body: bytes) -> str:
    """The start of an error body, fit for a message (no key, no control characters)."""
    return redaction.redact(clean_text(body[:200].decode(errors="replace")))


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds asked by a Retry-After header (delta-seconds or an HTTP date), or None.

    None when absent, unreadable, zero, negative or not finite: then backoff applies.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _honour_retry_after(backoff: Any, cap: float) -> Any:
    """A tenacity wait: the server's Retry-After (up to `cap`) when it gave one, else `backoff`."""

    def wait(retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return min(retry_after, cap) if retry_after is not None else backoff(retry_state)

    return wait


def _count_retry(retry_state: tenacity.RetryCallState) -> None:
    usage.add(retry_state.args[2] if len(retry_state.args) > 2 else None, retries=1)
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    logger.info("LLM request attempt %d failed (%s); retrying", retry_state.attempt_number, exc)


def _shown(url: str) -> str:
    """`url` fit for messages and logs: scheme, host, port and path only."""
    parts = urllib3.util.parse_url(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.host}{port}{parts.path or ''}"
