"""An incremental server-sent-events parser (WHATWG ``text/event-stream`` framing).

Bytes go in as they arrive, in chunks cut anywhere (even inside a UTF-8 sequence or between the
CR and LF of a line end); complete messages come out. Lines end in LF, CR or CRLF; ``:`` lines
are comments (keep-alives); a blank line dispatches; several ``data:`` lines join with ``\\n``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

DEFAULT_MAX_BUFFER = 64 * 1024 * 1024
"""A guard on memory: a slashing event with 131,072 indices is ~2 MB."""


class SseError(ValueError):
    """The stream is not a valid event stream (or a message outgrew the buffer limit)."""


@dataclass(frozen=True, slots=True)
class SseMessage:
    event: str
    data: str
    id: str | None = None


class SseParser:
    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._skip_lf = False
        self._first = True
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0
        self._last_id: str | None = None
        self._max = max_buffer
        self.comments = 0
        """Comment lines seen (keep-alives)."""

    def feed(self, chunk: bytes) -> list[SseMessage]:
        text = self._decoder.decode(chunk)
        if self._first and text:
            text = text.removeprefix("\ufeff")
            self._first = False
        out: list[SseMessage] = []
        start = 0
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if self._skip_lf:
                self._skip_lf = False
                if ch == "\n":
                    i += 1
                    start = i
                    continue
            if ch in "\r\n":
                line = self._line + text[start:i]
                self._line = ""
                self._skip_lf = ch == "\r"
                message = self._line_done(line)
                if message is not None:
                    out.append(message)
                i += 1
                start = i
                continue
            i += 1
        self._line += text[start:]
        if len(self._line) + self._data_size > self._max:
            raise SseError(f"event larger than {self._max} bytes")
        return out

    def _line_done(self, line: str) -> SseMessage | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self._max:
                raise SseError(f"event larger than {self._max} bytes")
        elif name == "id" and "\0" not in value:
            self._last_id = value
        # "retry" and unknown fields are ignored: reconnect timing is ours, not the server's.
        return None

    def _dispatch(self) -> SseMessage | None:
        data, event = self._data, self._event
        self._data, self._event, self._data_size = [], "", 0
        if not data:
            return None
        return SseMessage(event=event or "message", data="\n".join(data), id=self._last_id)
