from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.links import (
    PLATFORMS,
    TimeFormatError,
    deep_link,
    format_clock,
    format_srt_time,
    format_time,
    format_vtt_time,
    parse_time,
    platform_of,
    youtube_id,
)

VIDEO = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42:30", 2550.0),
        ("0:05", 5.0),
        ("0:00", 0.0),
        ("42:5", 2525.0),
        ("90:00", 5400.0),
        ("1:02:03", 3723.0),
        ("0:00:00", 0.0),
        ("100:00:00", 360000.0),
        ("42:30.5", 2550.5),
        ("1:02:03.25", 3723.25),
        ("2550", 2550.0),
        ("0", 0.0),
        ("2550.5", 2550.5),
        ("2550s", 2550.0),
        ("2550.5s", 2550.5),
        ("42m30s", 2550.0),
        ("42m", 2520.0),
        ("90m", 5400.0),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("1h30s", 3630.0),
        ("1h 2m 3s", 3723.0),
        ("1H2M3S", 3723.0),
        ("1.5h", 5400.0),
        ("  42:30\n", 2550.0),
        ("\t2550s ", 2550.0),
    ],
)
def test_parse_time_accepts(text: str, expected: float) -> None:
    assert parse_time(text) == expected


def test_parse_time_returns_float() -> None:
    assert isinstance(parse_time("2550"), float)
    assert isinstance(parse_time("42:30"), float)
    assert isinstance(parse_time("42m30s"), float)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-5",
        "-0:05",
        "-1h",
        "4x:30",
        "abc",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "infinity",
        "1e3",
        "+5",
        "0x10",
        "42:60",
        "1:60:00",
        "1:00:60",
        "1:02:03:04",
        "0:0:0:0",
        "42:",
        ":30",
        "1::3",
        "42:30:",
        "42.5:30",
        "1:2.5:3",
        "1:005",
        "42 30",
        "42;30",
        "h",
        "m30",
        "42m30",
        "30s42m",
        "1h90m",
        "1h60m",
        "1m60s",
        "1h75s",
        "1d",
        "1.",
        ".5",
        "1_000",
        "٤٢",  # Arabic-Indic digits, which float() would accept
        "９０",  # fullwidth digits
        "9" * 400,
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_time(text)


def test_time_format_error_is_value_error_with_clear_message() -> None:
    with pytest.raises(ValueError) as info:
        parse_time("4x:30")
    assert str(info.value) == (
        "can't read '4x:30' as a time; use 42:30, 1:02:03, 2550, 42m30s or 2550s"
    )
    assert isinstance(info.value, TimeFormatError)
    assert info.value.text == "4x:30"


def test_time_format_error_gives_reason() -> None:
    with pytest.raises(TimeFormatError, match="under 60") as info:
        parse_time("1:75")
    assert info.value.reason is not None
    assert str(info.value).startswith("can't read '1:75' as a time (")
    assert str(info.value).endswith("; use 42:30, 1:02:03, 2550, 42m30s or 2550s")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("-5", "negative"), ("1:2:3:4", "three fields"), ("9" * 400, "too large")],
)
def test_time_format_error_reasons(text: str, reason: str) -> None:
    with pytest.raises(TimeFormatError, match=reason):
        parse_time(text)


def test_time_format_error_pickles() -> None:
    error = TimeFormatError("4x:30", "why")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert (copy.text, copy.reason) == ("4x:30", "why")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00:00"),
        (0.0, "0:00:00"),
        (0.999, "0:00:00"),
        (5, "0:00:05"),
        (59.99, "0:00:59"),
        (60, "0:01:00"),
        (2550, "0:42:30"),
        (3599.9, "0:59:59"),
        (3600, "1:00:00"),
        (3723.9, "1:02:03"),
        (36000, "10:00:00"),
        (360000 + 61, "100:01:01"),
        (-5, "0:00:00"),
        (-0.5, "0:00:00"),
    ],
)
def test_format_time(seconds: float, expected: str) -> None:
    assert format_time(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00"),
        (5, "0:05"),
        (5.9, "0:05"),
        (59, "0:59"),
        (60, "1:00"),
        (2550, "42:30"),
        (3599.99, "59:59"),
        (3600, "1:00:00"),
        (3723.9, "1:02:03"),
        (360000, "100:00:00"),
        (-10, "0:00"),
    ],
)
def test_format_clock(seconds: float, expected: str) -> None:
    assert format_clock(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00:00,000"),
        (1.5, "00:00:01,500"),
        (1.9996, "00:00:02,000"),
        (1.9994, "00:00:01,999"),
        (59.9999, "00:01:00,000"),
        (3599.9995, "01:00:00,000"),
        (1.0005, "00:00:01,001"),
        (0.0004, "00:00:00,000"),
        (2.675, "00:00:02,675"),
        (2550.25, "00:42:30,250"),
        (3723.042, "01:02:03,042"),
        (360000.5, "100:00:00,500"),
        (-1.25, "00:00:00,000"),
    ],
)
def test_format_srt_time(seconds: float, expected: str) -> None:
    assert format_srt_time(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00:00.000"),
        (1.9996, "00:00:02.000"),
        (2550.25, "00:42:30.250"),
        (3723.042, "01:02:03.042"),
        (360000.5, "100:00:00.500"),
        (-3, "00:00:00.000"),
    ],
)
def test_format_vtt_time(seconds: float, expected: str) -> None:
    assert format_vtt_time(seconds) == expected


def test_subtitle_times_never_show_1000_ms() -> None:
    for step in range(20000):
        seconds = step * 0.0137
        for text in (format_srt_time(seconds), format_vtt_time(seconds)):
            assert len(text.rsplit("," if "," in text else ".", 1)[1]) == 3


@pytest.mark.parametrize(
    "formatter",
    [format_time, format_clock, format_srt_time, format_vtt_time],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_formatters_reject_non_finite(formatter: Callable[[float], str], bad: float) -> None:
    with pytest.raises(ValueError):
        formatter(bad)


@pytest.mark.parametrize("text", ["0:00", "0:05", "42:30", "1:02:03", "100:00:00"])
def test_format_clock_round_trips(text: str) -> None:
    assert format_clock(parse_time(text)) == text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://www.youtube.com/watch?v={VIDEO}", VIDEO),
        (f"https://youtube.com/watch?v={VIDEO}", VIDEO),
        (f"http://www.youtube.com/watch?v={VIDEO}", VIDEO),
        (f"https://m.youtube.com/watch?v={VIDEO}", VIDEO),
        (f"https://music.youtube.com/watch?v={VIDEO}&feature=share", VIDEO),
        (f"https://www.youtube.com/watch?feature=share&v={VIDEO}&t=1", VIDEO),
        (f"https://www.youtube.com/watch?app=desktop&v={VIDEO}", VIDEO),
        (f"https://youtu.be/{VIDEO}", VIDEO),
        (f"https://youtu.be/{VIDEO}?si=abc&t=30", VIDEO),
        (f"https://www.youtube.com/shorts/{VIDEO}", VIDEO),
        (f"https://youtube.com/shorts/{VIDEO}?feature=share", VIDEO),
        (f"https://www.youtube.com/live/{VIDEO}?si=x", VIDEO),
        (f"https://www.youtube.com/embed/{VIDEO}?start=30", VIDEO),
        (f"https://www.youtube-nocookie.com/embed/{VIDEO}", VIDEO),
        (f"https://www.youtube.com/v/{VIDEO}", VIDEO),
        (f"HTTPS://WWW.YOUTUBE.COM/watch?v={VIDEO}", VIDEO),
        (f"https://www.youtube.com:443/watch?v={VIDEO}", VIDEO),
        (f"  https://youtu.be/{VIDEO}  ", VIDEO),
        ("https://www.youtube.com/watch?v=short", None),
        ("https://www.youtube.com/watch", None),
        ("https://www.youtube.com/@somechannel", None),
        ("https://www.youtube.com/playlist?list=PL123", None),
        ("https://www.youtube.com/embed/videoseries?list=PL123", None),
        ("https://youtu.be/", None),
        (f"https://vimeo.com/watch?v={VIDEO}", None),
        (f"https://notyoutube.com/watch?v={VIDEO}", None),
        (f"https://youtube.com.evil.example/watch?v={VIDEO}", None),
        (VIDEO, None),
        (f"youtube.com/watch?v={VIDEO}", None),
    ],
)
def test_youtube_id(url: str, expected: str | None) -> None:
    assert youtube_id(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VIDEO}",
        f"https://youtube.com/watch?v={VIDEO}",
        f"https://m.youtube.com/watch?v={VIDEO}",
        f"https://music.youtube.com/watch?v={VIDEO}",
        f"https://youtu.be/{VIDEO}",
        f"https://www.youtube.com/shorts/{VIDEO}",
        f"https://www.youtube.com/live/{VIDEO}",
        f"https://www.youtube.com/embed/{VIDEO}",
        f"https://www.youtube-nocookie.com/embed/{VIDEO}",
        f"https://www.youtube.com/watch?v={VIDEO}&t=10s",
        f"https://www.youtube.com/watch?v={VIDEO}&t=1h2m",
        f"https://www.youtube.com/watch?t=99&v={VIDEO}",
        f"https://www.youtube.com/watch?v={VIDEO}&start=10",
        f"https://www.youtube.com/embed/{VIDEO}?start=10&end=20",
        f"https://youtu.be/{VIDEO}?t=30",
        f"https://youtu.be/{VIDEO}?si=tracking",
        f"https://www.youtube.com/watch?v={VIDEO}&feature=youtu.be&si=abc",
        f"https://www.youtube.com/watch?v={VIDEO}#t=5",
        f"http://www.youtube.com/watch?v={VIDEO}",
    ],
)
def test_deep_link_youtube_is_canonical(url: str) -> None:
    assert deep_link(url, 2550) == f"https://www.youtube.com/watch?v={VIDEO}&t=2550s"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"https://www.youtube.com/watch?v={VIDEO}&list=PL1&index=3",
            f"https://www.youtube.com/watch?v={VIDEO}&list=PL1&index=3&t=2550s",
        ),
        (
            f"https://www.youtube.com/watch?index=3&list=PL1&t=5&v={VIDEO}",
            f"https://www.youtube.com/watch?v={VIDEO}&list=PL1&index=3&t=2550s",
        ),
        (
            f"https://www.youtube.com/watch?v={VIDEO}&list=PLabc-_XYZ&t=12s&pp=xyz",
            f"https://www.youtube.com/watch?v={VIDEO}&list=PLabc-_XYZ&t=2550s",
        ),
        (
            f"https://youtu.be/{VIDEO}?list=PL1&index=3",
            f"https://www.youtube.com/watch?v={VIDEO}&list=PL1&index=3&t=2550s",
        ),
        (
            f"https://www.youtube.com/embed/{VIDEO}?list=PL1",
            f"https://www.youtube.com/watch?v={VIDEO}&list=PL1&t=2550s",
        ),
    ],
)
def test_deep_link_youtube_keeps_playlist(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


@pytest.mark.parametrize(
    ("seconds", "suffix"),
    [(0, "t=0s"), (0.9, "t=0s"), (2550.99, "t=2550s"), (-4, "t=0s"), (360000, "t=360000s")],
)
def test_deep_link_youtube_seconds(seconds: float, suffix: str) -> None:
    assert deep_link(f"https://youtu.be/{VIDEO}", seconds).endswith("&" + suffix)


def test_deep_link_youtube_without_video_id_sets_t() -> None:
    url = "https://www.youtube.com/watch?v=abc&start=9&foo=1"
    assert deep_link(url, 42) == "https://www.youtube.com/watch?v=abc&foo=1&t=42s"


@pytest.mark.parametrize(
    ("url", "seconds", "expected"),
    [
        ("https://vimeo.com/123456", 2550, "https://vimeo.com/123456#t=42m30s"),
        ("https://vimeo.com/123456", 45, "https://vimeo.com/123456#t=45s"),
        ("https://vimeo.com/123456", 0, "https://vimeo.com/123456#t=0s"),
        ("https://vimeo.com/123456", 60, "https://vimeo.com/123456#t=1m0s"),
        ("https://vimeo.com/123456", 3723.9, "https://vimeo.com/123456#t=1h2m3s"),
        ("https://vimeo.com/123456", 3600, "https://vimeo.com/123456#t=1h0m0s"),
        ("https://www.vimeo.com/123456", 5, "https://www.vimeo.com/123456#t=5s"),
        ("https://vimeo.com/123456#t=10s", 5, "https://vimeo.com/123456#t=5s"),
        ("https://vimeo.com/123456/abcdef", 5, "https://vimeo.com/123456/abcdef#t=5s"),
        (
            "https://player.vimeo.com/video/123456",
            2550,
            "https://player.vimeo.com/video/123456#t=42m30s",
        ),
        (
            "https://player.vimeo.com/video/123456?h=abc&badge=0#foo",
            2550,
            "https://player.vimeo.com/video/123456?h=abc&badge=0#t=42m30s",
        ),
    ],
)
def test_deep_link_vimeo(url: str, seconds: float, expected: str) -> None:
    assert deep_link(url, seconds) == expected


@pytest.mark.parametrize("fragment", ["42m30s", "1h2m3s", "45s", "0s", "1h0m0s"])
def test_vimeo_fragment_reads_back_with_parse_time(fragment: str) -> None:
    seconds = parse_time(fragment)
    assert deep_link("https://vimeo.com/1", seconds) == f"https://vimeo.com/1#t={fragment}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/ep.mp3", "https://example.com/ep.mp3#t=2550"),
        ("https://example.com/a/b/ep.m4a", "https://example.com/a/b/ep.m4a#t=2550"),
        ("https://example.com/ep.MP3", "https://example.com/ep.MP3#t=2550"),
        ("https://example.com/ep.Mp4", "https://example.com/ep.Mp4#t=2550"),
        (
            "https://cdn.example.com/ep.mp3?token=abc&x=1",
            "https://cdn.example.com/ep.mp3?token=abc&x=1#t=2550",
        ),
        ("https://example.com/ep.ogg#t=10,20", "https://example.com/ep.ogg#t=2550"),
        ("https://example.com/ep.webm#anything", "https://example.com/ep.webm#t=2550"),
        (
            "https://example.com/my%20show/ep%201.opus",
            "https://example.com/my%20show/ep%201.opus#t=2550",
        ),
        ("http://example.com:8080/ep.flac", "http://example.com:8080/ep.flac#t=2550"),
        ("ftp://example.com/ep.wav", "ftp://example.com/ep.wav#t=2550"),
    ],
)
def test_deep_link_media(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


@pytest.mark.parametrize(
    "extension",
    [
        "mp3",
        "m4a",
        "mp4",
        "m4v",
        "aac",
        "ogg",
        "oga",
        "opus",
        "wav",
        "flac",
        "webm",
        "mkv",
        "mov",
        "mpga",
        "MP3",
        "M4A",
        "WebM",
        "OPUS",
    ],
)
def test_media_extensions(extension: str) -> None:
    url = f"https://example.com/episode.{extension}?dl=1"
    assert platform_of(url) == "media"
    assert deep_link(url, 2550) == f"{url}#t=2550"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/episode.html",
        "https://example.com/mp3",
        "https://example.com/episode.mp3/",
        "https://example.com/page?file=episode.mp3",
        "https://example.com/page#episode.mp3",
        "https://example.com/",
    ],
)
def test_not_media(url: str) -> None:
    assert platform_of(url) == "web"


@pytest.mark.parametrize(
    ("url", "seconds", "expected"),
    [
        (
            "https://soundcloud.com/artist/track",
            2550,
            "https://soundcloud.com/artist/track#t=42:30",
        ),
        ("https://soundcloud.com/artist/track", 5, "https://soundcloud.com/artist/track#t=0:05"),
        (
            "https://soundcloud.com/artist/track",
            3723,
            "https://soundcloud.com/artist/track#t=1:02:03",
        ),
        (
            "https://soundcloud.com/artist/track#t=1:00",
            65.7,
            "https://soundcloud.com/artist/track#t=1:05",
        ),
        (
            "https://m.soundcloud.com/artist/track?si=x",
            0,
            "https://m.soundcloud.com/artist/track?si=x#t=0:00",
        ),
    ],
)
def test_deep_link_soundcloud(url: str, seconds: float, expected: str) -> None:
    assert deep_link(url, seconds) == expected


@pytest.mark.parametrize(
    ("url", "seconds", "expected"),
    [
        (
            "https://www.twitch.tv/videos/123456789",
            2550,
            "https://www.twitch.tv/videos/123456789?t=0h42m30s",
        ),
        (
            "https://www.twitch.tv/videos/123456789",
            3723,
            "https://www.twitch.tv/videos/123456789?t=1h2m3s",
        ),
        (
            "https://www.twitch.tv/videos/123456789",
            0,
            "https://www.twitch.tv/videos/123456789?t=0h0m0s",
        ),
        ("https://twitch.tv/videos/1?t=1h0m0s", 5, "https://twitch.tv/videos/1?t=0h0m5s"),
        (
            "https://m.twitch.tv/videos/1?filter=archives&t=9s",
            5,
            "https://m.twitch.tv/videos/1?filter=archives&t=0h0m5s",
        ),
    ],
)
def test_deep_link_twitch(url: str, seconds: float, expected: str) -> None:
    assert deep_link(url, seconds) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.dailymotion.com/video/x8abc12",
            "https://www.dailymotion.com/video/x8abc12?start=2550",
        ),
        (
            "https://dailymotion.com/video/x8abc12?start=10",
            "https://dailymotion.com/video/x8abc12?start=2550",
        ),
        (
            "https://www.dailymotion.com/video/x8abc12?playlist=x6&start=1",
            "https://www.dailymotion.com/video/x8abc12?playlist=x6&start=2550",
        ),
        ("https://dai.ly/x8abc12", "https://dai.ly/x8abc12?start=2550"),
    ],
)
def test_deep_link_dailymotion(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk",
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk?t=2550",
        ),
        (
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk?si=abc123",
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk?si=abc123&t=2550",
        ),
        (
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk?t=10&si=abc",
            "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk?si=abc&t=2550",
        ),
    ],
)
def test_deep_link_spotify(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///srv/podcasts/ep.mp3", "file:///srv/podcasts/ep.mp3#t=2550"),
        ("file:///srv/podcasts/ep.mp3#t=5", "file:///srv/podcasts/ep.mp3#t=2550"),
        ("file:///srv/my%20show/ep.MP3", "file:///srv/my%20show/ep.MP3#t=2550"),
        ("FILE:///srv/ep.mp3", "file:///srv/ep.mp3#t=2550"),
        ("/srv/podcasts/ep.mp3", "file:///srv/podcasts/ep.mp3#t=2550"),
        ("/srv/my show/ep #1?.mp3", "file:///srv/my%20show/ep%20%231%3F.mp3#t=2550"),
        ("/srv/podcasts/no-extension", "file:///srv/podcasts/no-extension#t=2550"),
        ("C:\\Podcasts\\ep 1.mp3", "file:///C:/Podcasts/ep%201.mp3#t=2550"),
        ("c:/Podcasts/ep.mp3", "file:///c:/Podcasts/ep.mp3#t=2550"),
    ],
)
def test_deep_link_file(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


def test_deep_link_relative_path_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = (tmp_path / "media" / "ep.mp3").as_uri() + "#t=7"
    assert deep_link("media/ep.mp3", 7.5) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/episodes/42", "https://example.com/episodes/42#t=2550"),
        ("https://example.com/episodes/42#comments", "https://example.com/episodes/42#t=2550"),
        ("https://example.com/p?a=1&b=%20x+y", "https://example.com/p?a=1&b=%20x+y#t=2550"),
        ("https://example.com", "https://example.com#t=2550"),
        ("http://user@example.com:8000/p;x", "http://user@example.com:8000/p;x#t=2550"),
        ("https://bandcamp.example/track/x", "https://bandcamp.example/track/x#t=2550"),
    ],
)
def test_deep_link_web(url: str, expected: str) -> None:
    assert deep_link(url, 2550) == expected


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        (f"https://www.youtube.com/watch?v={VIDEO}", "youtube"),
        (f"https://youtu.be/{VIDEO}", "youtube"),
        (f"https://music.youtube.com/watch?v={VIDEO}", "youtube"),
        (f"https://www.youtube-nocookie.com/embed/{VIDEO}", "youtube"),
        ("https://www.youtube.com/@channel", "youtube"),
        ("https://vimeo.com/123456", "vimeo"),
        ("https://player.vimeo.com/video/123456", "vimeo"),
        ("https://soundcloud.com/a/b", "soundcloud"),
        ("https://www.twitch.tv/videos/1", "twitch"),
        ("https://www.dailymotion.com/video/x8abc12", "dailymotion"),
        ("https://dai.ly/x8abc12", "dailymotion"),
        ("https://open.spotify.com/episode/abc", "spotify"),
        ("https://example.com/ep.mp3", "media"),
        ("https://vimeo.com/download/ep.mp4", "media"),
        ("https://EXAMPLE.com/EP.M4A?x=1", "media"),
        ("file:///srv/ep.mp3", "file"),
        ("/srv/ep.mp3", "file"),
        ("relative/ep.mp3", "file"),
        ("C:\\Podcasts\\ep.mp3", "file"),
        ("https://example.com/episodes/42", "web"),
        ("https://notyoutube.com/watch?v=x", "web"),
        ("https://youtube.com.evil.example/watch?v=x", "web"),
        ("https://myvimeo.com/123", "web"),
        ("  https://vimeo.com/1  ", "vimeo"),
    ],
)
def test_platform_of(url: str, platform: str) -> None:
    assert platform_of(url) == platform
    assert platform in PLATFORMS


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        platform_of(url)
    with pytest.raises(ValueError):
        deep_link(url, 5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_deep_link_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ValueError):
        deep_link("https://example.com/ep.mp3", bad)


@pytest.mark.parametrize(
    "url",
    [
        f"https://youtu.be/{VIDEO}",
        "https://vimeo.com/1",
        "https://example.com/ep.mp3",
        "https://soundcloud.com/a/b",
        "https://www.twitch.tv/videos/1",
        "https://www.dailymotion.com/video/x1",
        "https://open.spotify.com/episode/abc",
        "file:///srv/ep.mp3",
        "https://example.com/page",
    ],
)
def test_deep_link_negative_and_fractional_seconds(url: str) -> None:
    assert deep_link(url, -30) == deep_link(url, 0)
    assert deep_link(url, 2550.999) == deep_link(url, 2550)


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VIDEO}&t=5s",
        "https://vimeo.com/1#t=5s",
        "https://example.com/ep.mp3#t=5",
        "https://www.twitch.tv/videos/1?t=0h0m5s",
        "https://www.dailymotion.com/video/x1?start=5",
        "https://open.spotify.com/episode/abc?t=5",
        "https://example.com/page#t=5",
    ],
)
def test_deep_link_is_idempotent(url: str) -> None:
    once = deep_link(url, 2550)
    assert deep_link(once, 2550) == once
    assert deep_link(once, 5) == deep_link(url, 5)


def test_range_link_uses_media_fragment_ranges():
    from indexer.links import range_link

    assert (
        range_link("https://example.com/ep.mp3", 61.2, 75.1) == "https://example.com/ep.mp3#t=61,76"
    )
    assert (
        range_link("https://youtu.be/dQw4w9WgXcQ", 61.2, 75.1)
        == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=61s"
    )


def test_youtube_embed():
    from indexer.links import youtube_embed

    assert youtube_embed("https://youtu.be/dQw4w9WgXcQ", 42.9) == (
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?start=42&enablejsapi=1"
    )
    assert youtube_embed("https://example.com/a.mp3") is None
