"""Spoken test recordings made with espeak-ng, with the true start time of every line."""

from __future__ import annotations

import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 22050


@dataclass(frozen=True)
class Line:
    """One spoken line: who says it and when it starts in the recording (seconds)."""

    voice: str
    text: str
    start: float = 0.0
    end: float = 0.0


def espeak(text: str, voice: str = "en-us", speed: int = 165) -> np.ndarray:
    """Speak text with espeak-ng; int16 samples at 22.05 kHz, silence trimmed at both ends."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install espeak-ng")
    out = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    # espeak-ng writes a WAV header with unknown length when piping; skip the 44-byte header.
    samples = np.frombuffer(out[44:], dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def speak_lines(
    lines: Sequence[tuple[str, str]], gap: float = 0.8, lead: float = 1.0
) -> tuple[np.ndarray, list[Line]]:
    """Join (voice, text) lines with pauses; return samples and each line's true times."""
    parts: list[np.ndarray] = [np.zeros(int(lead * RATE), dtype=np.int16)]
    placed: list[Line] = []
    t = lead
    for voice, text in lines:
        clip = espeak(text, voice)
        placed.append(Line(voice, text, round(t, 3), round(t + len(clip) / RATE, 3)))
        parts += [clip, np.zeros(int(gap * RATE), dtype=np.int16)]
        t += len(clip) / RATE + gap
    return np.concatenate(parts), placed


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Write mono int16 samples as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def encode(
    wav: Path, target: Path, codec: str = "libopus", bitrate: int = 24000, title: str | None = None
) -> Path:
    """Re-encode a WAV file (to Opus in Ogg, MP3, ...) with PyAV."""
    import av

    with av.open(str(wav)) as src, av.open(str(target), "w") as dst:
        if title:
            dst.metadata["title"] = title
        rate = 48000 if codec == "libopus" else RATE
        stream = dst.add_stream(codec, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in src.decode(audio=0):
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    dst.mux(packet)
        for out in resampler.resample(None):
            for packet in stream.encode(out):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return target
