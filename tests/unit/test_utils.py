"""Behaviour of tinytroupe.utils: TinyTroupe's helper names, flat in one package."""

from __future__ import annotations

import configparser
import json
import logging
import subprocess
import sys
import threading
from datetime import datetime
from typing import ClassVar

import pytest

from tinytroupe import ConfigError, config_manager, utils
from tinytroupe.sanitize import MAX_DEPTH, UntrustedDataError

# ------------------------------------------------------------------------------------
# the package
# ------------------------------------------------------------------------------------


def test_every_exported_name_exists_and_import_is_light() -> None:
    for name in utils.__all__:
        assert hasattr(utils, name), name
    code = ("import sys, tinytroupe.utils; "
            "heavy = [m for m in ('aiohttp', 'urllib3', 'tenacity', 'tinytroupe.agent', "
            "'tinytroupe.environment', 'tinytroupe.clients') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------
# misc
# ------------------------------------------------------------------------------------


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_name_or_empty() -> None:
    assert utils.name_or_empty(None) == ""
    assert utils.name_or_empty(_Named("Lisa")) == "Lisa"


def test_custom_hash_is_sha256_of_str_and_survives_surrogates() -> None:
    import hashlib

    assert utils.custom_hash({"a": 1}) == hashlib.sha256(b"{'a': 1}").hexdigest()
    assert utils.custom_hash(42) == utils.custom_hash("42")
    assert len(utils.custom_hash("bad \ud800 text")) == 64


def test_fresh_id_counts_per_scope_and_resets() -> None:
    utils.reset_fresh_id()
    assert [utils.fresh_id() for _ in range(3)] == [1, 2, 3]
    assert utils.fresh_id("agents") == 1
    assert utils.fresh_id() == 4
    utils.reset_fresh_id("agents")
    assert utils.fresh_id("agents") == 1
    assert utils.fresh_id() == 5
    utils.reset_fresh_id()
    assert utils.fresh_id() == 1 and utils.fresh_id("agents") == 1


def test_fresh_id_is_thread_safe() -> None:
    utils.reset_fresh_id("threads")
    results: list[list[int]] = [[] for _ in range(16)]
    start = threading.Barrier(16)

    def take(bucket: list[int]) -> None:
        start.wait()
        bucket.extend(utils.fresh_id("threads") for _ in range(500))

    threads = [threading.Thread(target=take, args=(bucket,)) for bucket in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for bucket in results for i in bucket]
    assert sorted(ids) == list(range(1, 16 * 500 + 1))
    assert all(bucket == sorted(bucket) for bucket in results)


def test_first_non_none() -> None:
    assert utils.first_non_none(None, 0, 5) == 0
    assert utils.first_non_none(None, False) is False
    assert utils.first_non_none(None, None) is None
    assert utils.first_non_none() is None


def test_repeat_on_error_retries_then_succeeds() -> None:
    calls = []

    @utils.repeat_on_error(retries=3, exceptions=[KeyError])
    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) < 3:
            raise KeyError("again")
        return x * 2

    assert flaky(21) == 42
    assert calls == [21, 21, 21]
    assert flaky.__name__ == "flaky"


def test_repeat_on_error_reraises_after_retries_and_ignores_other_errors() -> None:
    calls = []

    @utils.repeat_on_error(retries=2, exceptions=(KeyError, IndexError))
    def always(kind: type[Exception]) -> None:
        calls.append(kind)
        raise kind("boom")

    with pytest.raises(IndexError):
        always(IndexError)
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ZeroDivisionError):
        always(ZeroDivisionError)
    assert len(calls) == 1  # not a listed exception: no retry

    @utils.repeat_on_error(retries=0, exceptions=ValueError)
    def once() -> str:
        return "called"

    assert once() == "called"  # zero retries still calls once


# ------------------------------------------------------------------------------------
# text
# ------------------------------------------------------------------------------------


def test_break_text_at_length() -> None:
    assert utils.break_text_at_length(None) == ""
    assert utils.break_text_at_length(None, 3) == ""
    assert utils.break_text_at_length("hello") == "hello"
    assert utils.break_text_at_length("hello", 5) == "hello"
    assert utils.break_text_at_length("hello world", 5) == "hello (...)"
    assert utils.break_text_at_length("hello", 0) == " (...)"
    data = {"a": 1, "b": [1, 2]}
    assert utils.break_text_at_length(data) == json.dumps(data, indent=4)
    assert utils.break_text_at_length(data, 10) == json.dumps(data, indent=4)[:10] + " (...)"


def test_small_text_helpers() -> None:
    assert utils.pretty_datetime(datetime(2024, 3, 5, 7, 8, 9)) == "2024-03-05 07:08"
    assert utils.dedent("\n    a\n      b\n    ") == "a\n  b"
    wrapped = utils.wrap_text("word " * 50, width=20)
    assert all(len(line) <= 20 for line in wrapped.splitlines())
    assert utils.wrap_text("short") == "short"
    html = '<div style="color: red;"><p style="x">hi</p></div>'
    assert utils.inject_html_css_style_prefix(html, "font-size: 20px") == (
        '<div style="font-size: 20px;color: red;"><p style="font-size: 20px;x">hi</p></div>')


def test_extract_code_block() -> None:
    text = "Here it is:\n```python\nprint(1)\n```\nThat's all."
    assert utils.extract_code_block(text) == "```python\nprint(1)\n```"
    assert utils.extract_code_block("no fences") == "no fences"
    assert utils.extract_code_block("a ```x``` b ```y``` c") == "```x``` b ```y```"
    assert utils.extract_code_block("intro ```open") == "```open"
    assert utils.extract_code_block(None) == ""  # type: ignore[arg-type]


def test_truncate_actions_or_stimuli_cuts_only_action_and_stimulus_contents() -> None:
    long = "x" * 50
    messages = [
        {"role": "system", "content": {"action": {"content": long}}},
        {"role": "assistant", "content": {"action": {"type": "TALK", "content": long}}},
        {"role": "user", "content": {"stimulus": {"content": long}}},
        {"role": "user", "content": {"stimuli": [{"type": "CONVERSATION", "content": long},
                                                 {"type": "VISUAL"}]}},
        {"role": "user", "content": "plain " + long},
        {"content": {"action": {"content": long}}},
    ]
    result = utils.truncate_actions_or_stimuli(messages, 10)
    cut = "x" * 10 + " (...)"
    assert result[0] == messages[0]
    assert result[1]["content"]["action"] == {"type": "TALK", "content": cut}
    assert result[2]["content"]["stimulus"]["content"] == cut
    assert result[3]["content"]["stimuli"] == [{"type": "CONVERSATION", "content": cut},
                                               {"type": "VISUAL"}]
    assert result[4] == messages[4] and result[5] == messages[5]
    assert messages[1]["content"]["action"]["content"] == long  # original untouched
    assert utils.truncate_actions_or_stimuli(messages, None) == messages


# ------------------------------------------------------------------------------------
# extract_json
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}),
    ('Sure! Here is the answer: {"a": [1, 2]} Hope it helps.', {"a": [1, 2]}),
    ('```json\n{"action": {"type": "TALK"}}\n```', {"action": {"type": "TALK"}}),
    ('Text {with braces} first\n```json\n{"ok": true}\n```\nafter', {"ok": True}),
    ('[1, 2, {"b": null}]', [1, 2, {"b": None}]),
    ('{"text": "line one\nline two\ttab"}', {"text": "line one\nline two\ttab"}),
    ('{"text": "it\\\'s fine\\, ok"}', {"text": "it's fine, ok"}),
    ('{"e": "caf\\u00e9"}', {"e": "café"}),
    ("{'a': 'b', 'c': True, 'd': None}", {"a": "b", "c": True, "d": None}),
    ('{"s": "\\ud800"}', {"s": "\ufffd"}),
])
def test_extract_json_tolerates_model_output(text: str, expected: object) -> None:
    assert utils.extract_json(text) == expected


@pytest.mark.parametrize("text", [
    "", "no json here", "{", "}{", "{not json at all}", "[1, 2", "```json\n```",
])
def test_extract_json_returns_empty_dict_on_garbage(text: str) -> None:
    assert utils.extract_json(text) == {}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 5_000, 200_000])
@pytest.mark.parametrize("open_close", [("[", "]"), ('{"a":', "}")])
def test_extract_json_deep_nesting_gives_empty_dict(depth: int,
                                                    open_close: tuple[str, str]) -> None:
    opening, closing = open_close
    assert utils.extract_json(opening * depth + "1" + closing * depth) == {}
    assert utils.extract_json(opening * depth) == {}  # unterminated too


def test_extract_json_accepts_nesting_within_the_bound() -> None:
    depth = MAX_DEPTH - 1
    value = utils.extract_json("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_extract_json_given_python_objects() -> None:
    data = {"a": [1, 2]}
    assert utils.extract_json(data) is data
    assert utils.extract_json([1]) == [1]
    assert utils.extract_json({"a": object()}) == {}
    assert utils.extract_json(None) == {}  # type: ignore[arg-type]
    assert utils.extract_json(b'{"a": 1}') == {"a": 1}  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------
# merge_dicts
# ------------------------------------------------------------------------------------


def test_merge_dicts_adds_replaces_none_and_recurses() -> None:
    current = {"a": 1, "b": None, "nested": {"x": 1, "deep": {"k": None}}}
    additions = {"b": "now", "c": 3, "nested": {"y": 2, "deep": {"k": "v"}}}
    merged = utils.merge_dicts(current, additions)
    assert merged == {"a": 1, "b": "now", "c": 3,
                      "nested": {"x": 1, "y": 2, "deep": {"k": "v"}}}
    assert current == {"a": 1, "b": None, "nested": {"x": 1, "deep": {"k": None}}}


def test_merge_dicts_concatenates_lists_without_repeats_and_without_mutation() -> None:
    current = {"tags": ["a", "b", {"k": 1}]}
    additions = {"tags": ["b", "c", {"k": 1}, {"k": 2}, ["l"], ["l"]]}
    merged = utils.merge_dicts(current, additions)
    assert merged["tags"] == ["a", "b", {"k": 1}, "c", {"k": 2}, ["l"]]
    assert current["tags"] == ["a", "b", {"k": 1}]
    assert additions["tags"] == ["b", "c", {"k": 1}, {"k": 2}, ["l"], ["l"]]


def test_merge_dicts_type_mismatch_raises_type_error() -> None:
    with pytest.raises(TypeError):
        utils.merge_dicts({"a": 1}, {"a": "1"})
    with pytest.raises(TypeError):
        utils.merge_dicts({"a": [1]}, {"a": {"b": 1}})
    with pytest.raises(TypeError):
        utils.merge_dicts({"n": {"a": 1}}, {"n": {"a": 1.0}})


def test_merge_dicts_scalar_conflicts() -> None:
    assert utils.merge_dicts({"a": 1}, {"a": 1}) == {"a": 1}  # equal: no conflict
    with pytest.raises(ValueError, match="'a'"):
        utils.merge_dicts({"a": 1}, {"a": 2})
    with pytest.raises(ValueError):
        utils.merge_dicts({"n": {"a": "x"}}, {"n": {"a": "y"}})
    assert utils.merge_dicts({"a": 1}, {"a": 2}, overwrite=True) == {"a": 2}
    assert utils.merge_dicts({"a": 1}, {"a": 2}, error_on_conflict=False) == {"a": 1}
    assert utils.merge_dicts({"n": {"a": 1}}, {"n": {"a": 2}}, overwrite=True,
                             error_on_conflict=True) == {"n": {"a": 2}}


def test_remove_duplicates() -> None:
    assert utils.remove_duplicates([3, 1, 3, {"a": [1]}, {"a": [1]}, (1, [2]), (1, [2])]) == [
        3, 1, {"a": [1]}, (1, [2])]


# ------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------


def test_sanitize_raw_string() -> None:
    assert utils.sanitize_raw_string("plain") == "plain"
    assert utils.sanitize_raw_string("a\ud800b") == "a\ufffdb"
    assert utils.sanitize_raw_string("e\u0301") == "\u00e9"  # NFC
    utils.sanitize_raw_string("x\udfff").encode("utf-8")  # encodable now


def test_sanitize_dict_cleans_in_place_and_bounds_nesting() -> None:
    value = {"name": "a\ud800", "k\udc00": 1, "nested": {"list": ["\ud801", 2]}}
    assert utils.sanitize_dict(value) is value
    assert value == {"name": "a\ufffd", "k\ufffd": 1, "nested": {"list": ["\ufffd", 2]}}
    deep: dict = {}
    node = deep
    for _ in range(MAX_DEPTH + 5):
        node["n"] = {}
        node = node["n"]
    deep["s"] = "\ud800"
    with pytest.raises(UntrustedDataError):
        utils.sanitize_dict(deep)
    assert deep["s"] == "\ud800"  # untouched when refused


def test_check_valid_fields() -> None:
    utils.check_valid_fields({"a": 1}, ["a", "b"])
    with pytest.raises(ValueError, match="'c'"):
        utils.check_valid_fields({"c": 1}, ["a", "b"])


# ------------------------------------------------------------------------------------
# post_init and JsonSerializableRegistry
# ------------------------------------------------------------------------------------


def test_post_init_runs_once_after_init_even_with_decorated_subclasses() -> None:
    events: list[str] = []

    @utils.post_init
    class Base:
        def __init__(self, x: int) -> None:
            self.x = x
            events.append("base init")

        def _post_init(self) -> None:
            events.append(f"post {type(self).__name__} x={self.x}")

    @utils.post_init
    class Child(Base):
        def __init__(self) -> None:
            super().__init__(1)
            self.x += 1
            events.append("child init")

    Base(5)
    assert events == ["base init", "post Base x=5"]
    events.clear()
    Child()
    assert events == ["base init", "child init", "post Child x=2"]

    @utils.post_init
    class NoHook:
        def __init__(self) -> None:
            self.ok = True

    assert NoHook().ok


class _Address(utils.JsonSerializableRegistry):
    def __init__(self, city: str) -> None:
        self.city = city


class _Person(utils.JsonSerializableRegistry):
    serializable_attributes: ClassVar[list[str]] = ["name", "address", "friends", "secret"]
    suppress_attributes_from_serialization: ClassVar[list[str]] = ["secret"]
    serializable_attributes_renaming: ClassVar[dict[str, str]] = {"name": "full_name"}

    def __init__(self, name: str, address: _Address, friends: list) -> None:
        self.name, self.address, self.friends, self.secret = name, address, friends, "s"
        self.ready = False

    def _post_init(self, **kwargs: object) -> None:
        self.ready = True
        self.params = kwargs


class _Employee(_Person):
    serializable_attributes: ClassVar[list[str]] = ["employer"]

    def __init__(self, name: str, employer: str) -> None:
        super().__init__(name, _Address("Lisbon"), [])
        self.employer = employer


def test_json_serializable_registry_round_trip(tmp_path) -> None:
    bob = _Person("Bob", _Address("Porto"), [_Address("Braga"), "text"])
    data = bob.to_json()
    assert data == {"json_serializable_class_name": "_Person", "full_name": "Bob",
                    "address": {"json_serializable_class_name": "_Address", "city": "Porto"},
                    "friends": [{"json_serializable_class_name": "_Address", "city": "Braga"},
                                "text"]}
    back = _Person.from_json(data, post_init_params={"k": 1})
    assert isinstance(back, _Person) and isinstance(back.address, _Address)
    assert (back.name, back.address.city, back.friends[0].city, back.friends[1]) == (
        "Bob", "Porto", "Braga", "text")
    assert back.ready and back.params == {"k": 1} and not hasattr(back, "secret")

    path = tmp_path / "sub" / "emp.json"
    emp = _Employee("Ann", "ACME")
    emp.to_json(file_path=path)
    loaded = utils.JsonSerializableRegistry.from_json(str(path))
    assert type(loaded) is _Employee
    assert (loaded.name, loaded.employer, loaded.address.city) == ("Ann", "ACME", "Lisbon")
    assert "full_name" in json.loads(path.read_text())

    assert set(emp.to_json(include=["employer"])) == {"json_serializable_class_name",
                                                       "employer"}
    assert "address" not in emp.to_json(suppress=["address"])
    with pytest.raises(TypeError):
        _Employee.from_json(data)  # a _Person is not an _Employee


def test_json_serializable_registry_without_declared_attributes() -> None:
    addr = _Address("Faro")
    addr.extra = {"n": [1, 2]}
    data = addr.to_json()
    assert data == {"json_serializable_class_name": "_Address", "city": "Faro",
                    "extra": {"n": [1, 2]}}
    back = _Address.from_json({**data, "__class__": "x", "__dict__": {}})
    assert type(back) is _Address and back.city == "Faro" and back.extra == {"n": [1, 2]}


# ------------------------------------------------------------------------------------
# configuration and logging
# ------------------------------------------------------------------------------------


def test_read_config_file_sections_and_keys() -> None:
    config = utils.read_config_file(use_cache=False, verbose=False)
    assert isinstance(config, configparser.ConfigParser)
    assert config.sections() == ["OpenAI", "Simulation", "Cognition", "ActionGenerator",
                                 "Logging"]
    assert config["OpenAI"]["model"] == str(config_manager.get("model"))
    assert config["OpenAI"]["MODEL"] == config["OpenAI"]["model"]  # lower-cased keys
    assert config["OpenAI"]["max_attempts"] == str(config_manager.get("max_attempts"))
    assert config["ActionGenerator"]["max_attempts"] == str(
        config_manager.get("action_generator_max_attempts"))
    assert not any(k.startswith("action_generator_") for k in config["ActionGenerator"])
    assert config["Logging"]["loglevel"] == "WARNING"
    assert config.getboolean("Simulation", "parallel_agent_actions") in (True, False)
    assert all(isinstance(v, str) for s in config.sections() for _, v in config.items(s))


def test_read_config_file_reflects_set_and_reset() -> None:
    first = utils.read_config_file(verbose=False)
    assert utils.read_config_file(verbose=False) is first  # cached while unchanged
    config_manager.set("model", "my-model")
    config_manager.set("action_generator_max_attempts", 7)
    config_manager.set("max_tokens_per_minute", 1000)
    config = utils.read_config_file(verbose=False)
    assert config is not first
    assert config["OpenAI"]["model"] == "my-model"
    assert config["ActionGenerator"]["max_attempts"] == "7"
    assert config["OpenAI"]["max_tokens_per_minute"] == "1000"
    config_manager.reset()
    assert utils.read_config_file(verbose=False)["OpenAI"]["model"] != "my-model"


def test_read_config_file_verbose_prints_sources(capsys) -> None:
    utils.read_config_file(use_cache=False, verbose=True)
    out = capsys.readouterr().out
    assert "config.ini" in out
    utils.read_config_file(use_cache=False, verbose=False)
    assert capsys.readouterr().out == ""


def test_pretty_print_config(capsys) -> None:
    config_manager.set("model", "shown-model")
    utils.pretty_print_config(utils.read_config_file(verbose=False))
    out = capsys.readouterr().out
    assert "Current TinyTroupe configuration" in out
    assert "[OpenAI]" in out and "[ActionGenerator]" in out
    assert "model = shown-model" in out
    utils.pretty_print_config({"Custom": {"k": "v\x1b[31m"}})
    out = capsys.readouterr().out
    assert "[Custom]" in out and "k = v" in out and "\x1b" not in out


@pytest.fixture
def restore_tinytroupe_logger():
    logger = logging.getLogger("tinytroupe")
    handlers, propagate = list(logger.handlers), logger.propagate
    yield logger
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.propagate = propagate


def test_set_loglevel_goes_through_config_manager(restore_tinytroupe_logger) -> None:
    logger = restore_tinytroupe_logger
    utils.set_loglevel("debug")
    assert config_manager.get("loglevel") == "DEBUG"
    assert logger.level == logging.DEBUG
    assert utils.read_config_file(verbose=False)["Logging"]["loglevel"] == "DEBUG"
    utils.set_loglevel(logging.ERROR)
    assert logger.level == logging.ERROR and config_manager.get("loglevel") == "ERROR"
    with pytest.raises(ConfigError):
        utils.set_loglevel("chatty")
    config_manager.reset()
    assert logger.level == logging.WARNING


def test_start_logger_sets_level_and_one_handler(restore_tinytroupe_logger) -> None:
    logger = restore_tinytroupe_logger
    root_level = logging.getLogger().level
    before = list(logger.handlers)
    config = configparser.ConfigParser()
    config.read_dict({"Logging": {"LOGLEVEL": "info"}})
    utils.start_logger(config)
    assert logger.level == logging.INFO and config_manager.get("loglevel") == "INFO"
    added = [h for h in logger.handlers if h not in before]
    assert len(added) == 1
    assert "%(levelname)s" in added[0].formatter._fmt
    utils.start_logger(utils.read_config_file(verbose=False))  # replaces, not adds
    assert len([h for h in logger.handlers if h not in before]) == 1
    assert logger.level == logging.INFO  # the config now says INFO
    utils.start_logger(configparser.ConfigParser())  # no [Logging]: WARNING
    assert logger.level == logging.WARNING
    assert logging.getLogger().level == root_level


def test_version_and_datetime_banners(capsys) -> None:
    utils.pretty_print_tinytroupe_version()
    utils.pretty_print_datetime()
    out = capsys.readouterr().out
    assert "TinyTroupe version:" in out
    assert "(local)" in out and "(UTC)" in out


def test_latency_distributions_match_their_parameters() -> None:
    import math
    import statistics

    from tinytroupe.testing.latency import Latency

    lognormal = Latency({"distribution": "lognormal", "median": 1.0, "sigma": 0.5}, seed=3)
    draws = [lognormal.draw() for _ in range(20_000)]
    assert abs(statistics.median(draws) - 1.0) < 0.03
    assert abs(statistics.fmean(draws) - math.exp(0.125)) < 0.03  # m * exp(sigma^2 / 2)
    replica = Latency({"distribution": "slow_replica", "median": 1.0, "fraction": 0.05,
                       "factor": 10}, seed=3)
    slow = sum(replica.draw() == 10.0 for _ in range(20_000)) / 20_000
    assert abs(slow - 0.05) < 0.01
    assert Latency([0.2, 0.4]).median == pytest.approx(0.3)
    assert Latency(0.5).draw() == 0.5


@pytest.mark.parametrize("spec, message", [
    ({"distribution": "pareto"}, "distribution must be one of"),
    ({"distribution": "lognormal", "median": 1.0}, "needs 'sigma'"),
    ({"distribution": "lognormal", "median": -1, "sigma": 0.5}, "median must be"),
    ({"distribution": "slow_replica", "median": 1, "fraction": 2, "factor": 3}, "fraction"),
    ({"distribution": "fixed", "seconds": 1, "jitter": 2}, "unknown keys"),
    ([3, 1], "min <= max"),
])
def test_bad_latency_specs_are_named(spec, message) -> None:
    from tinytroupe.testing.latency import Latency

    with pytest.raises(ValueError, match=message):
        Latency(spec)
