"""Tests for tinytroupe.config: precedence, typing, validation, thread safety."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

from tinytroupe.config import (
    DEFAULTS_PATH,
    VALIDATORS,
    ConfigError,
    ConfigManager,
    config_defaults,
)
from tinytroupe.config_keys import qualified


def write_ini(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_user(tmp_path: Path) -> Path:
    return tmp_path / "does-not-exist.ini"


@pytest.fixture
def cm(no_user: Path) -> ConfigManager:
    return ConfigManager(user_path=no_user, environ={})


def test_package_defaults_are_typed(cm: ConfigManager) -> None:
    assert cm.get("API_TYPE") == "openai"
    assert cm.get("MODEL") == "gpt-4o-mini"
    assert cm.get("BASE_URL") is None
    assert cm.get("AZURE_API_VERSION") == "2024-08-01-preview"
    assert cm.get("MAX_TOKENS") == 1024
    assert cm.get("TEMPERATURE") == 1.0
    assert cm.get("TIMEOUT") == 60.0 and isinstance(cm.get("TIMEOUT"), float)
    assert cm.get("MAX_WORKERS") == "ALL"  # shipped: one thread per agent
    assert cm.get("PARALLEL_AGENT_ACTIONS") is True
    assert cm.get("PARALLEL_EXECUTION_TIMEOUT") == 300.0
    assert cm.get("ON_AGENT_ERROR") == "continue"
    assert cm.get("LOGLEVEL") == "WARNING"
    assert set(cm.as_dict()) == set(VALIDATORS)


def test_case_insensitive_get_and_unknown_default(cm: ConfigManager) -> None:
    assert cm.get("max_tokens") == cm.get("MAX_TOKENS") == cm.get("Max_Tokens") == 1024
    assert cm.get("no_such_key") is None
    assert cm.get("no_such_key", 42) == 42
    assert cm.section_of("max_workers") == "Simulation"
    assert cm.section_of("no_such_key") is None


def test_precedence_defaults_file_env_set(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini",
                     "[Simulation]\nMAX_WORKERS=3\nPARALLEL_EXECUTION_TIMEOUT=10\n"
                     "[OpenAI]\nMODEL=file-model\n")
    env = {"TINYTROUPE_PARALLEL_EXECUTION_TIMEOUT": "20", "TINYTROUPE_MODEL": "env-model"}
    cm = ConfigManager(user_path=user, environ=env)
    assert cm.get("MAX_TOKENS") == 1024  # default, untouched by the file
    assert cm.get("MAX_WORKERS") == 3  # file
    assert cm.get("PARALLEL_EXECUTION_TIMEOUT") == 20.0  # env beats file
    assert cm.get("MODEL") == "env-model"
    cm.set("model", "set-model")
    assert cm.get("MODEL") == "set-model"  # set beats env
    cm.reset()
    assert cm.get("MODEL") == "env-model"


def test_user_path_none_means_cwd_config_at_load_time(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_ini(tmp_path / "config.ini", "[Simulation]\nMAX_WORKERS=7\n")
    monkeypatch.chdir(tmp_path)
    assert ConfigManager(environ={}).get("MAX_WORKERS") == 7


def test_reset_drops_set_and_rereads_file_and_env(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini", "[Simulation]\nMAX_WORKERS=2\n")
    env: dict[str, str] = {}
    cm = ConfigManager(user_path=user, environ=env)
    cm.set("MAX_TOKENS", 5)
    write_ini(user, "[Simulation]\nMAX_WORKERS=4\n")
    env["TINYTROUPE_TIMEOUT"] = "9"
    assert cm.get("MAX_WORKERS") == 2  # no re-read before reset()
    cm.reset()
    assert cm.get("MAX_TOKENS") == 1024
    assert cm.get("MAX_WORKERS") == 4
    assert cm.get("TIMEOUT") == 9.0


def test_inline_comments_and_typing(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini", (
        "[Simulation]\n"
        "MAX_WORKERS=all  # threads\n"
        "PARALLEL_AGENT_ACTIONS=false ; off\n"
        "RANDOM_SEED=42\n"
        "[Logging]\nloglevel=debug\n"
        "[Custom]\nA=None\nB=TRUE\nC=12\nD=1.5\nE=hello world  # comment\n"
    ))
    cm = ConfigManager(user_path=user, environ={})
    assert cm.get("MAX_WORKERS") == "ALL"
    assert cm.get("PARALLEL_AGENT_ACTIONS") is False
    assert cm.get("RANDOM_SEED") == 42
    assert cm.get("LOGLEVEL") == "DEBUG"
    assert cm.get("a") is None and "A" in cm.as_dict()
    assert cm.get("b") is True
    assert cm.get("c") == 12 and isinstance(cm.get("c"), int)
    assert cm.get("d") == 1.5
    assert cm.get("e") == "hello world"


def test_unknown_keys_and_sections_kept_with_warning(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    user = write_ini(tmp_path / "config.ini",
                     "[OpenAI]\nSOMETHING_NEW=text\n"
                     "[Extras]\nFOO_LIMIT=2\n")
    with caplog.at_level(logging.WARNING, logger="tinytroupe"):
        cm = ConfigManager(user_path=user, environ={"TINYTROUPE_SOMETHING_NEW": "x"})
    assert cm.get("something_new") == "x"  # env overrides unknown file keys too
    assert cm.get("FOO_LIMIT") == 2
    assert cm.section_of("something_new") == "OpenAI"
    assert cm.section_of("foo_limit") == "Extras"
    text = caplog.text
    assert str(user) in text and "SOMETHING_NEW" in text
    assert "Extras" in text and "FOO_LIMIT" in text


def test_action_generator_keys_are_their_own(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini", "[OpenAI]\nMAX_ATTEMPTS=7\nFREQ_PENALTY=0.5\n"
                                              "[ActionGenerator]\nMAX_ATTEMPTS=3\n")
    cm = ConfigManager(user_path=user, environ={})
    assert cm.get("max_attempts") == 7  # HTTP attempts: not overridden by the section below
    assert cm.get("action_generator_max_attempts") == 3
    assert cm.get("frequency_penalty") == cm.get("freq_penalty") == 0.5  # upstream's alias


def test_set_accepts_python_values_and_strings(cm: ConfigManager) -> None:
    cm.set("max_workers", 5)
    assert cm.get("MAX_WORKERS") == 5
    cm.set("max_workers", "all")
    assert cm.get("MAX_WORKERS") == "ALL"
    cm.set("max_workers", None)
    assert cm.get("MAX_WORKERS") is None
    cm.set("max_workers", "12")
    assert cm.get("MAX_WORKERS") == 12
    cm.set("parallel_agent_actions", "False")
    assert cm.get("PARALLEL_AGENT_ACTIONS") is False
    cm.set("timeout", 3)
    assert cm.get("TIMEOUT") == 3.0 and isinstance(cm.get("TIMEOUT"), float)
    cm.set("model", "123")
    assert cm.get("MODEL") == "123"  # string keys are not re-typed
    snapshot = cm.as_dict()
    snapshot["MODEL"] = "mutated"
    assert cm.get("MODEL") == "123"


BAD_VALUES = [
    ("MAX_WORKERS", "-3"), ("MAX_WORKERS", "0"), ("MAX_WORKERS", "many"),
    ("TIMEOUT", "abc"), ("TIMEOUT", "0"), ("API_TYPE", "foo"),
    ("PARALLEL_EXECUTION_TIMEOUT", "0"), ("PARALLEL_EXECUTION_TIMEOUT", "abc"),
    ("PARALLEL_EXECUTION_TIMEOUT", "-1"), ("ON_AGENT_ERROR", "explode"),
    ("LOGLEVEL", "LOUD"), ("TEMPERATURE", "5"), ("TEMPERATURE", "-0.1"),
    ("MAX_ATTEMPTS", "0"), ("MAX_TOKENS", "0"), ("MAX_TOKENS", "1.5"),
    ("MODEL", ""), ("BASE_URL", "ftp://x"), ("RETRY_BASE_DELAY", "-1"),
    ("RETRY_MAX_DELAY", "nan"), ("MAX_CONCURRENT_MODEL_CALLS", "-1"),
    ("MAX_OUTPUT_REPAIR_ATTEMPTS", "-1"), ("PARALLEL_AGENT_ACTIONS", "maybe"),
    ("COLLECT_PARALLEL_METRICS", "2"), ("RANDOM_SEED", "x"),
    ("MAX_ACTIONS_BEFORE_DONE", "0"), ("EPISODIC_MEMORY_FIXED_PREFIX_LENGTH", "-1"),
    ("EPISODIC_MEMORY_LOOKBACK_LENGTH", "0"), ("EPISODIC_MEMORY_MAX_SIZE", "0"),
]


def assert_names(err: ConfigError, source: str, section: str, key: str, value: str) -> None:
    msg = str(err)
    assert source in msg and f"[{section}]" in msg and key in msg and repr(value) in msg
    assert "expected" in msg


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_in_file(tmp_path: Path, key: str, value: str) -> None:
    section = ConfigManager(user_path=tmp_path / "none", environ={}).section_of(key)
    user = write_ini(tmp_path / "config.ini", f"[{section}]\n{key}={value}\n")
    with pytest.raises(ConfigError) as info:
        ConfigManager(user_path=user, environ={})
    assert_names(info.value, str(user), section, key, value)


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_in_env(no_user: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        ConfigManager(user_path=no_user, environ={f"TINYTROUPE_{key}": value})
    section = ConfigManager(user_path=no_user, environ={}).section_of(key)
    assert_names(info.value, f"environment variable TINYTROUPE_{key}", section, key, value)


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_in_set(cm: ConfigManager, key: str, value: str) -> None:
    before = cm.as_dict()
    with pytest.raises(ConfigError) as info:
        cm.set(key.lower(), value)
    assert_names(info.value, "config_manager.set()", cm.section_of(key) or "", key, value)
    assert cm.as_dict() == before


@pytest.mark.parametrize(("key", "value"), [
    ("MAX_WORKERS", -3), ("MAX_WORKERS", 2.5), ("MAX_WORKERS", True), ("TIMEOUT", True),
    ("TEMPERATURE", 2.5), ("API_TYPE", 3), ("MAX_TOKENS", [1]),
])
def test_bad_python_value_in_set(cm: ConfigManager, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(value))):
        cm.set(key, value)


def test_example_message_format(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini", "[Simulation]\nMAX_WORKERS=-3\n")
    with pytest.raises(ConfigError) as info:
        ConfigManager(user_path=user, environ={})
    assert str(info.value) == (f"Invalid value for MAX_WORKERS in [Simulation] of {user}: "
                               "'-3' (expected None, ALL or an integer >= 1)")


def test_unparseable_file_names_the_file(tmp_path: Path) -> None:
    user = write_ini(tmp_path / "config.ini", "MAX_WORKERS=3\n")  # no section header
    with pytest.raises(ConfigError, match=re.escape(str(user))):
        ConfigManager(user_path=user, environ={})


def test_config_defaults_fills_at_call_time(monkeypatch: pytest.MonkeyPatch,
                                            cm: ConfigManager) -> None:
    import tinytroupe.config as config_module

    monkeypatch.setattr(config_module, "config_manager", cm)

    @config_defaults(timeout="TIMEOUT", workers="max_workers")
    def run(steps: int, timeout: float | None = None, workers: int | None = None) -> tuple:
        """Docstring kept."""
        return steps, timeout, workers

    assert run.__name__ == "run" and run.__doc__ == "Docstring kept."
    assert run(1) == (1, 60.0, "ALL")
    cm.set("timeout", 5)
    cm.set("max_workers", 8)
    assert run(1) == (1, 5.0, 8)  # read at call time, not decoration time
    assert run(1, None, None) == (1, 5.0, 8)
    assert run(1, 2.0) == (1, 2.0, 8)
    assert run(steps=1, workers=3) == (1, 5.0, 3)
    assert run(1, timeout=7, workers=0) == (1, 7, 0)  # falsy but explicit: kept


def test_config_defaults_rejects_unknown_parameter() -> None:
    with pytest.raises(TypeError):
        @config_defaults(nope="TIMEOUT")
        def f(x: int) -> int:
            return x


def test_concurrent_set_and_get(cm: ConfigManager) -> None:
    allowed = {None, "ALL", *range(1, 21)}
    errors: list[BaseException] = []
    seen: set[object] = set()
    lock = threading.Lock()
    start = threading.Barrier(20)

    def worker(i: int) -> None:
        try:
            start.wait(timeout=10)
            local = set()
            for n in range(300):
                if n % 3 == 0:
                    cm.set("max_workers", [i + 1, "all", None][n % 9 // 3])
                local.add(cm.get("MAX_WORKERS"))
                assert cm.get("TIMEOUT") == 60.0
            with lock:
                seen.update(local)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert seen <= allowed


def test_packaged_config_documents_every_key() -> None:
    lines = DEFAULTS_PATH.read_text(encoding="utf-8").splitlines()
    keys, section = [], None
    for i, line in enumerate(lines):
        section = line.strip()[1:-1] if line.startswith("[") else section
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if m:
            keys.append(qualified(section, m.group(1)))
            assert i > 0 and lines[i - 1].lstrip().startswith("#"), f"{m.group(1)} undocumented"
    assert sorted(keys) == sorted(VALIDATORS)


def test_repo_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config.ini"
    if not example.is_file():
        pytest.skip("no example config.ini at the repo root")
    cm = ConfigManager(user_path=example, environ={})
    assert cm.get("API_TYPE") == "offline" and cm.get("MAX_WORKERS") == "ALL"
