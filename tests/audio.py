"""Audio samples for tests: a real WAV on disk and the first bytes of MP3 and M4A files."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
BEEP_WAV = DATA / "beep.wav"  # 1 s, 8 kHz mono, two 440 Hz beeps

# An ID3v2 tag followed by an MPEG-1 Layer III frame header: what MP3 files start with.
MP3_BYTES = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
# An ISO base media file whose major brand is "M4A ".
M4A_BYTES = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 400
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def wav_bytes() -> bytes:
    return BEEP_WAV.read_bytes()
