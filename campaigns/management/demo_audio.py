"""A short tone as WAV bytes: the audio of the demo's and generate_calls' voice files, so each
one listed has a file behind its player."""

from __future__ import annotations

import io
import math
import struct
import wave


def tone_wav(*, seconds: float = 1.5, hz: int = 523, rate: int = 8000) -> bytes:
    """A mono 16-bit sine tone (C5 by default), quiet enough to play in an office."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(6000 * math.sin(2 * math.pi * hz * i / rate)))
                for i in range(int(seconds * rate))
            )
        )
    return buffer.getvalue()
