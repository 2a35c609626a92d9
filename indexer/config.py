"""Settings: defaults, then a TOML file, then INDEXER_* environment variables, then options."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The configuration file or an environment variable has a bad value."""


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podcast-indexer"


@dataclass(frozen=True)
class Settings:
    """Every knob the indexer has, with its default."""

    db: str = "indexer.db"
    # "base" means the bundled offline model; any faster-whisper name or folder works too.
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0  # 0: one per core
    batch_size: int = 8  # >1 uses faster-whisper's batched pipeline
    redecode: bool = True  # re-decode sequentially the speech the batched pipeline skipped
    beam_size: int = 1
    language: str | None = None  # None: detect
    vad: bool = True
    hints: bool = True  # pass title/show notes to the model as vocabulary hints
    subtitles: bool = False  # use a video's creator-uploaded subtitles instead of transcribing
    chunk_seconds: float = 45.0
    media_dir: str = ""  # "" -> <cache>/media
    keep_media: bool = True
    cache_dir: str = ""  # "" -> $XDG_CACHE_HOME/podcast-indexer
    max_duration: float = 0.0  # 0: no limit (seconds)
    # meaning-search vectors made with each episode: "mpnet" (bundled, the best), "minilm"
    # (bundled, 3x faster), a model folder, or "off"
    embedding_model: str = "mpnet"
    # The job queue's Redis URL ("redis://host:6379/0"): add and refresh hand new items to
    # `indexer worker` processes. "" (the default) indexes in-process.
    queue: str = ""
    queue_heartbeat: float = 60.0  # seconds a silent worker's job waits before redelivery
    queue_retries: int = 2  # retries of a job that failed (download error, ...) before it fails
    queue_backoff: float = 30.0  # seconds before a failed job's first retry; doubles each time

    @property
    def cache_path(self) -> Path:
        """Folder for the assembled model and downloaded media."""
        return Path(self.cache_dir) if self.cache_dir else cache_home()

    @property
    def media_path(self) -> Path:
        """Folder where downloaded audio is kept."""
        return Path(self.media_dir) if self.media_dir else self.cache_path / "media"

    def replace(self, **changes: Any) -> Settings:
        """A copy with the non-None changes applied."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a TOML or environment value into the field's type."""
    default = getattr(Settings, name)
    kind = _FIELDS[name].type
    from_file = not isinstance(value, str)
    # TOML values have types: a wrong one is a mistake, not something to convert.
    if from_file and (
        isinstance(value, (list, dict))
        or (isinstance(value, bool) and not isinstance(default, bool))
        or (isinstance(default, int) and not isinstance(default, bool)
            and isinstance(value, float) and not value.is_integer())
    ):  # fmt: skip
        raise ConfigError(f"{origin}: bad value {value!r} for '{name}'")
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if "None" in str(kind) and (value is None or str(value).strip() in ("", "auto")):
            return None
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: bad value {value!r} for '{name}'") from None


def default_config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """INDEXER_CONFIG, or config/indexer.toml in the current folder if it exists."""
    explicit = (os.environ if env is None else env).get("INDEXER_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = Path("config") / "indexer.toml"
    return candidate if candidate.is_file() else None


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, the config file, the environment and overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else default_config_file(env)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"can't read config file {path}: {exc}") from None
        section = data
        if "indexer" in data:
            section = data["indexer"]
            if not isinstance(section, dict):
                raise ConfigError(f"{path}: 'indexer' must be a [indexer] table")
            stray = [k for k in data if k != "indexer"]
            if stray:
                raise ConfigError(f"{path}: setting '{stray[0]}' is outside the [indexer] table")
        for key, value in section.items():
            name = key.replace("-", "_")
            if name not in _FIELDS:
                raise ConfigError(f"{path}: unknown setting '{key}'")
            values[name] = _coerce(name, value, str(path))
    for name in _FIELDS:
        var = "INDEXER_" + name.upper()
        if var in env:
            values[name] = _coerce(name, env[var], var)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
