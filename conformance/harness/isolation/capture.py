"""What a port prints, kept bounded: the first and last ``CAPTURE_LIMIT // 2`` bytes and a count of what went
between. The text is escaped where it is shown (port_text.safe_text)."""

from __future__ import annotations

import io
import os

from ...port_text import CAPTURE_LIMIT


class Captured:
    """What the port printed: the worker's stdout and stderr share one pipe, which the parent drains
    while it waits for an answer. Only the first and the last ``CAPTURE_LIMIT // 2`` bytes since the
    last ``take`` are kept (and how many went between): a port that prints without end costs time
    until its timeout, never memory or disk."""

    def __init__(self):
        self.fd = None
        self._reset()

    def _reset(self):
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def attach(self, fd: int) -> None:
        self.detach()
        os.set_blocking(fd, False)
        self.fd = fd

    def detach(self) -> None:
        """Keep what is left in the pipe, then close it."""
        if self.fd is not None:
            self.drain()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _keep(self, data: bytes) -> None:
        half = CAPTURE_LIMIT // 2
        self.total += len(data)
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data[-half:])[-half:]

    def drain(self, most: int = 1 << 22) -> None:
        """Read what the pipe holds now (at most ``most`` bytes: a writer faster than this reader
        must not keep it here), without waiting; close it at end of file."""
        start = self.total
        while self.fd is not None and self.total - start < most:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                os.close(self.fd)
                self.fd = None
                return
            self._keep(data)

    def take(self) -> str:
        self.drain()
        head, tail, cut = bytes(self.head), bytes(self.tail), self.total - len(self.head) - len(self.tail)
        self._reset()
        text = head.decode("utf-8", errors="replace")
        if cut > 0:
            text += f"\n[... {cut:,} bytes cut ...]\n"
        return text + tail.decode("utf-8", errors="replace")


class CaptureWriter(io.TextIOBase):
    """A text stream that keeps what is written in a ``Captured`` (head and tail, bounded)."""

    def __init__(self, captured):
        super().__init__()
        self.captured = captured

    def writable(self):
        return True

    def write(self, text):
        self.captured._keep(str(text).encode("utf-8", errors="replace"))
        return len(text)
