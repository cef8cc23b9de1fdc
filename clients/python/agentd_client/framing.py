"""Content-Length framing (the LSP base protocol) as agentd speaks it, without any I/O.

`encode_message` turns one JSON-RPC message into bytes. `FrameDecoder.feed` takes bytes as
they arrive from agentd's stdout, however the pipe splits or merges them, and returns the
complete message bodies. Keeping the parser free of I/O makes it testable byte by byte.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

from .errors import FramingError, ProtocolError

# agentd itself refuses header blocks over 8 KiB; a longer one means the stream is not framed.
MAX_HEADER_BYTES = 8 * 1024
# Large exec/run results and fs/read replies are legitimate; anything near this is not.
DEFAULT_MAX_BODY_BYTES = 1 << 30

_HEADER_END = b"\r\n\r\n"
_INTER_MESSAGE_WHITESPACE = b" \t\r\n"


def encode_message(message: Any) -> bytes:
    """Frame one message: `Content-Length: N\\r\\n\\r\\n` then N bytes of UTF-8 JSON.

    Raises ValueError for text that cannot be UTF-8 (a lone surrogate) instead of sending
    something agentd would reject without being able to say which request it was.
    """
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"message is not valid UTF-8 (lone surrogate?): {error}") from None
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def decode_body(body: bytes) -> Any:
    """Parse one message body as UTF-8 JSON; ProtocolError when it is neither."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        preview = body[:80]
        raise ProtocolError(f"agentd sent a body that is not UTF-8 JSON ({error}): {preview!r}")


def parse_content_length(header_block: bytes, max_body_bytes: int) -> int:
    """The body length declared by a header block (without its final blank line).

    Header names are case-insensitive and other headers (Content-Type) are ignored, as in LSP.
    """
    try:
        text = header_block.decode("ascii")
    except UnicodeDecodeError:
        raise FramingError(f"header block is not ASCII: {header_block[:80]!r}") from None
    length: Optional[int] = None
    for line in text.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise FramingError(f"header line without ':': {line[:80]!r}")
        if name.strip().lower() != "content-length":
            continue
        value = value.strip()
        if not value.isdigit():
            raise FramingError(f"Content-Length is not a non-negative integer: {value[:40]!r}")
        if length is not None and int(value) != length:
            raise FramingError(f"conflicting Content-Length headers: {length} and {value}")
        length = int(value)
    if length is None:
        raise FramingError(f"header block has no Content-Length: {text[:80]!r}")
    if length > max_body_bytes:
        raise FramingError(f"Content-Length {length} exceeds the limit of {max_body_bytes} bytes")
    return length


class FrameDecoder:
    """Incremental Content-Length decoder. After a FramingError the stream is unusable:
    the decoder cannot know where the next message starts, so the caller must give up."""

    def __init__(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self._buffer = bytearray()
        self._body_length: Optional[int] = None
        self._max_body_bytes = max_body_bytes

    def feed(self, data: bytes) -> List[bytes]:
        """Add bytes; return every body completed by them, in order."""
        self._buffer += data
        bodies = []
        while True:
            body = self._next_body()
            if body is None:
                return bodies
            bodies.append(body)

    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned (a partial frame)."""
        return len(self._buffer)

    def _next_body(self) -> Optional[bytes]:
        if self._body_length is None and not self._read_header():
            return None
        assert self._body_length is not None
        if len(self._buffer) < self._body_length:
            return None
        body = bytes(self._buffer[: self._body_length])
        del self._buffer[: self._body_length]
        self._body_length = None
        return body

    def _read_header(self) -> bool:
        """Consume one header block if it is complete; True when the body length is known."""
        self._skip_whitespace()
        end = self._buffer.find(_HEADER_END)
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise FramingError(f"no end of headers within {MAX_HEADER_BYTES} bytes")
            return False
        if end > MAX_HEADER_BYTES:
            raise FramingError(f"header block of {end} bytes exceeds {MAX_HEADER_BYTES}")
        self._body_length = parse_content_length(bytes(self._buffer[:end]), self._max_body_bytes)
        del self._buffer[: end + len(_HEADER_END)]
        return True

    def _skip_whitespace(self) -> None:
        # Whitespace between messages is tolerated (agentd does the same).
        index = 0
        while index < len(self._buffer) and self._buffer[index] in _INTER_MESSAGE_WHITESPACE:
            index += 1
        if index:
            del self._buffer[:index]
