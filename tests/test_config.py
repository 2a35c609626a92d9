from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from indexer.config import ConfigError, Settings, default_config_file, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "indexer.toml.example"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No INDEXER_* variables and no config/indexer.toml from the developer's machine."""
    for name in list(os.environ):
        if name.startswith("INDEXER_"):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "settings.toml",
        'db = "from-file.db"\nchunk_seconds = 30\nmodel = "small"\nhints = true\n'
        'language = "de"\nbatch_size = 4\n',
    )


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.db == "indexer.db"
    assert settings.model == "base"
    assert settings.chunk_seconds == 45.0
    assert settings.batch_size == 8
    assert settings.language is None
    assert settings.vad is True and settings.hints is True and settings.keep_media is True


def test_settings_are_frozen() -> None:
    settings = load_settings(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.db = "other.db"  # type: ignore[misc]


def test_file_overrides_defaults(config_file: Path) -> None:
    settings = load_settings(config_file, env={})
    assert settings.db == "from-file.db"
    assert settings.chunk_seconds == 30.0
    assert isinstance(settings.chunk_seconds, float)
    assert settings.model == "small"
    assert settings.language == "de"
    assert settings.batch_size == 4
    # Settings the file doesn't mention keep their defaults.
    assert settings.device == "auto"
    assert settings.beam_size == 1


def test_file_path_may_be_a_string(config_file: Path) -> None:
    assert load_settings(str(config_file), env={}).db == "from-file.db"


def test_indexer_table_and_kebab_case_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[indexer]\nchunk-seconds = 20.5\nbatch-size = 2\nkeep-media = false\ncompute_type = "int8"\n',
    )
    settings = load_settings(path, env={})
    assert settings.chunk_seconds == 20.5
    assert settings.batch_size == 2
    assert settings.keep_media is False
    assert settings.compute_type == "int8"


def test_kebab_case_keys_at_top_level(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'max-duration = 3600\nmedia-dir = "/srv/media"\n')
    settings = load_settings(path, env={})
    assert settings.max_duration == 3600.0
    assert settings.media_dir == "/srv/media"
    assert settings.media_path == Path("/srv/media")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "c.toml", ""), env={}) == Settings()


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ('vad = "no"', "vad", False),
        ('vad = "off"', "vad", False),
        ("vad = false", "vad", False),
        ('hints = "yes"', "hints", True),
        ('beam_size = "3"', "beam_size", 3),
        ('chunk_seconds = "12.5"', "chunk_seconds", 12.5),
        ('language = ""', "language", None),
        ('language = "auto"', "language", None),
        ('language = "fr"', "language", "fr"),
    ],
)
def test_file_values_are_coerced_to_the_setting_type(
    tmp_path: Path, body: str, field: str, expected: object
) -> None:
    settings = load_settings(write(tmp_path / "c.toml", body + "\n"), env={})
    assert getattr(settings, field) == expected
    assert type(getattr(settings, field)) is type(expected)


def test_environment_overrides_file(config_file: Path) -> None:
    env = {
        "INDEXER_DB": "/data/env.db",
        "INDEXER_CHUNK_SECONDS": "60",
        "INDEXER_HINTS": "false",
        "INDEXER_LANGUAGE": "",
    }
    settings = load_settings(config_file, env=env)
    assert settings.db == "/data/env.db"
    assert settings.chunk_seconds == 60.0
    assert settings.hints is False
    assert settings.language is None  # empty means "detect", even though the file says "de"
    # Not in the environment: the file still wins over the defaults.
    assert settings.model == "small"
    assert settings.batch_size == 4


@pytest.mark.parametrize(
    ("var", "value", "field", "expected"),
    [
        ("INDEXER_VAD", "0", "vad", False),
        ("INDEXER_VAD", "OFF", "vad", False),
        ("INDEXER_KEEP_MEDIA", " No ", "keep_media", False),
        ("INDEXER_HINTS", "1", "hints", True),
        ("INDEXER_HINTS", "TRUE", "hints", True),
        ("INDEXER_BATCH_SIZE", "16", "batch_size", 16),
        ("INDEXER_CPU_THREADS", "4", "cpu_threads", 4),
        ("INDEXER_MAX_DURATION", "90.5", "max_duration", 90.5),
        ("INDEXER_LANGUAGE", "en", "language", "en"),
        ("INDEXER_LANGUAGE", "auto", "language", None),
        ("INDEXER_MODEL", "large-v3", "model", "large-v3"),
        ("INDEXER_CACHE_DIR", "/tmp/c", "cache_dir", "/tmp/c"),
    ],
)
def test_each_environment_variable(var: str, value: str, field: str, expected: object) -> None:
    assert getattr(load_settings(env={var: value}), field) == expected


def test_unrelated_environment_variables_are_ignored() -> None:
    env = {"INDEXER_NOPE": "1", "DB": "x.db", "indexer_db": "lower.db", "CHUNK_SECONDS": "x"}
    assert load_settings(env=env) == Settings()


def test_os_environ_is_used_when_env_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEXER_DB", "process.db")
    assert load_settings().db == "process.db"
    # An explicit mapping replaces the process environment.
    assert load_settings(env={}).db == "indexer.db"


def test_overrides_beat_environment_and_file(config_file: Path) -> None:
    env = {"INDEXER_DB": "env.db", "INDEXER_CHUNK_SECONDS": "60"}
    settings = load_settings(config_file, env=env, db="cli.db", chunk_seconds=10.0, vad=False)
    assert settings.db == "cli.db"
    assert settings.chunk_seconds == 10.0
    assert settings.vad is False
    assert settings.model == "small"


def test_none_overrides_are_ignored(config_file: Path) -> None:
    env = {"INDEXER_DB": "env.db"}
    settings = load_settings(config_file, env=env, db=None, model=None, chunk_seconds=None)
    assert settings.db == "env.db"
    assert settings.model == "small"
    assert settings.chunk_seconds == 30.0


def test_false_and_zero_overrides_are_applied() -> None:
    settings = load_settings(env={}, vad=False, cpu_threads=0, batch_size=1, media_dir="")
    assert settings.vad is False
    assert settings.batch_size == 1


@pytest.mark.parametrize("key", ["modle", "chunk-secs", "INDEXER_DB"])
def test_unknown_key_in_file_is_an_error(tmp_path: Path, key: str) -> None:
    path = write(tmp_path / "c.toml", f'{key} = "x"\n')
    with pytest.raises(ConfigError, match=f"unknown setting '{key}'"):
        load_settings(path, env={})


def test_unknown_key_in_indexer_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[indexer]\nmodel = "small"\nbeamsize = 3\n')
    with pytest.raises(ConfigError, match="beamsize") as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("body", "setting"),
    [
        ('chunk_seconds = "abc"', "chunk_seconds"),
        ('batch-size = "eight"', "batch_size"),
        ('vad = "maybe"', "vad"),
        ('cpu_threads = "1.5"', "cpu_threads"),
        ("beam_size = [1, 2]", "beam_size"),
    ],
)
def test_bad_value_in_file_names_the_setting(tmp_path: Path, body: str, setting: str) -> None:
    path = write(tmp_path / "c.toml", body + "\n")
    with pytest.raises(ConfigError, match=f"'{setting}'") as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("var", "value", "setting"),
    [
        ("INDEXER_BATCH_SIZE", "x", "batch_size"),
        ("INDEXER_CHUNK_SECONDS", "forty", "chunk_seconds"),
        ("INDEXER_HINTS", "nope", "hints"),
        ("INDEXER_CPU_THREADS", "", "cpu_threads"),
    ],
)
def test_bad_environment_value_names_variable_and_setting(
    var: str, value: str, setting: str
) -> None:
    with pytest.raises(ConfigError, match=f"'{setting}'") as info:
        load_settings(env={var: value})
    assert var in str(info.value)


@pytest.mark.parametrize(
    ("body", "setting"),
    [
        pytest.param("batch_size = 2.7", "batch_size", id="float-for-int"),
        pytest.param("cpu_threads = true", "cpu_threads", id="bool-for-int"),
        pytest.param("chunk_seconds = true", "chunk_seconds", id="bool-for-float"),
        pytest.param('model = ["small"]', "model", id="list-for-str"),
    ],
)
def test_wrong_toml_type_is_an_error(tmp_path: Path, body: str, setting: str) -> None:
    path = write(tmp_path / "c.toml", body + "\n")
    with pytest.raises(ConfigError, match=setting):
        load_settings(path, env={})


def test_unknown_top_level_key_beside_indexer_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'chunk-secnds = 30\n[indexer]\nmodel = "small"\n')
    with pytest.raises(ConfigError, match="chunk-secnds"):
        load_settings(path, env={})


def test_indexer_key_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'indexer = "small"\n')
    with pytest.raises(ConfigError, match="indexer"):
        load_settings(path, env={})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "indexer.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_settings(missing, env={})
    assert str(missing) in str(info.value)


@pytest.mark.parametrize(
    "body",
    ['db = "unterminated\n', "chunk_seconds = = 3\n", "[indexer\nmodel = 1\n", "a = 1\na = 2\n"],
)
def test_malformed_toml_is_an_error(tmp_path: Path, body: str) -> None:
    path = write(tmp_path / "bad.toml", body)
    with pytest.raises(ConfigError, match="can't read config file") as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('model = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError):
        load_settings(path, env={})


def test_directory_as_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path, env={})


def test_indexer_config_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "elsewhere" / "my.toml", 'model = "tiny"\n')
    monkeypatch.setenv("INDEXER_CONFIG", str(path))
    assert default_config_file() == path
    assert load_settings().model == "tiny"


def test_indexer_config_pointing_nowhere_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDEXER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_settings()


def test_explicit_file_beats_indexer_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDEXER_CONFIG", str(write(tmp_path / "a.toml", 'model = "a"\n')))
    assert load_settings(write(tmp_path / "b.toml", 'model = "b"\n'), env={}).model == "b"


def test_indexer_config_in_explicit_env_mapping_is_used(tmp_path: Path) -> None:
    path = write(tmp_path / "my.toml", 'model = "tiny"\n')
    assert load_settings(env={"INDEXER_CONFIG": str(path)}).model == "tiny"


def test_config_file_in_current_folder_is_picked_up(clean_environment: Path) -> None:
    write(clean_environment / "config" / "indexer.toml", "[indexer]\nchunk-seconds = 15\n")
    assert default_config_file() == Path("config") / "indexer.toml"
    assert load_settings(env={}).chunk_seconds == 15.0
    # ...and the environment still overrides it.
    assert load_settings(env={"INDEXER_CHUNK_SECONDS": "5"}).chunk_seconds == 5.0


def test_no_config_file_in_current_folder(clean_environment: Path) -> None:
    (clean_environment / "config").mkdir()
    write(clean_environment / "config" / "indexer.toml.example", "this is = not toml = at all\n")
    assert default_config_file() is None
    assert load_settings(env={}) == Settings()


def test_empty_indexer_config_falls_back_to_current_folder(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDEXER_CONFIG", "")
    write(clean_environment / "config" / "indexer.toml", 'model = "cwd"\n')
    assert load_settings(env={}).model == "cwd"


def test_shipped_example_config_loads() -> None:
    if not EXAMPLE.is_file():
        pytest.skip("config/indexer.toml.example is not there yet")
    settings = load_settings(EXAMPLE, env={})
    assert isinstance(settings, Settings)
    assert settings.chunk_seconds > 0


def test_replace_applies_only_non_none_changes() -> None:
    base = Settings(db="a.db", model="small")
    changed = base.replace(db="b.db", model=None, vad=False)
    assert changed.db == "b.db"
    assert changed.model == "small"
    assert changed.vad is False
    assert base.db == "a.db"


def test_cache_and_media_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    settings = Settings()
    assert settings.cache_path == tmp_path / "xdg" / "podcast-indexer"
    assert settings.media_path == tmp_path / "xdg" / "podcast-indexer" / "media"
    own = Settings(cache_dir=str(tmp_path / "c"))
    assert own.cache_path == tmp_path / "c"
    assert own.media_path == tmp_path / "c" / "media"
    both = Settings(cache_dir=str(tmp_path / "c"), media_dir=str(tmp_path / "m"))
    assert both.media_path == tmp_path / "m"
