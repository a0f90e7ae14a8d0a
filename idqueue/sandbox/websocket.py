"""A minimal RFC 6455 WebSocket server side, stdlib only, for the Slack emulator's Socket Mode.

Just what a Socket Mode link needs: the opening handshake's ``Sec-WebSocket-Accept``, text
frames (fragmented ones are reassembled), ping/pong and the closing handshake. Clients must
mask their frames and the server never does (RFC 6455 §5.1). No extensions, no subprotocols.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import queue
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed GUID of RFC 6455 §1.3."""

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_PAYLOAD = 16 * 1024 * 1024
"""Frames larger than this end the connection (an emulator has no use for them)."""


class ProtocolError(Exception):
    """The peer broke RFC 6455 (unmasked client frame, oversized or invalid control frame)."""


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_response(key: str) -> bytes:
    """The ``101 Switching Protocols`` answer to an opening handshake."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
        "\r\n"
    ).encode("ascii")


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One frame. Servers send unmasked frames; pass a 4-byte ``mask`` to build a client frame."""
    head = bytearray([(0x80 if fin else 0) | (opcode & 0x0F)])
    mask_bit = 0x80 if mask is not None else 0
    length = len(payload)
    if length <= 125:
        head.append(mask_bit | length)
    elif length <= 0xFFFF:
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    if mask is None:
        return bytes(head) + payload
    if len(mask) != 4:
        raise ValueError("a mask is 4 bytes")
    head += mask
    return bytes(head) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame."""

    opcode: int
    payload: bytes
    fin: bool = True


def read_frame(read: Callable[[int], bytes], *, require_mask: bool = True) -> Frame:
    """Read one frame with ``read(n)`` (which returns fewer bytes only at end of stream).

    Raises:
        EOFError: the stream ended (cleanly between frames or in the middle of one).
        ProtocolError: the frame breaks the rules a server enforces.
    """

    def exactly(n: int) -> bytes:
        data = read(n) if n else b""
        if len(data) < n:
            raise EOFError("connection closed")
        return data

    b1, b2 = exactly(2)
    fin, opcode = bool(b1 & 0x80), b1 & 0x0F
    masked, length = bool(b2 & 0x80), b2 & 0x7F
    if b1 & 0x70:
        raise ProtocolError("reserved bits set without an extension")
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    if opcode >= 0x8 and (length > 125 or not fin):
        raise ProtocolError("control frames are short and never fragmented")
    if length > MAX_PAYLOAD:
        raise ProtocolError("frame too large")
    if require_mask and not masked:
        raise ProtocolError("client frames must be masked")
    key = exactly(4) if masked else b""
    payload = exactly(length)
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return Frame(opcode, payload, fin)


class WebSocketPeer:
    """The server end of one accepted WebSocket connection.

    Reading happens on the thread that calls :meth:`serve` (the HTTP handler's thread); sending
    goes through a queue drained by a writer thread, so whoever emits an event never blocks on a
    slow client.

    Args:
        sock: the connected socket (after the ``101`` answer was sent).
        read: ``read(n)`` of a buffered reader over ``sock`` (it may already hold bytes that
            followed the handshake).
        name: a label for thread names and logs.
    """

    def __init__(self, sock: socket.socket, read: Callable[[int], bytes], *, name: str = "ws") -> None:
        self.sock = sock
        self.read = read
        self.name = name
        self.closed = threading.Event()
        self.close_code: int | None = None
        """The code of the peer's close frame (1005 when it had none); None if it never sent one."""
        self.pongs: list[bytes] = []
        """Payloads of the pongs the client sent (answers to :meth:`ping`)."""
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._close_sent = False
        self._reset = False
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_loop, name=f"{name}-writer", daemon=True)
        self._writer.start()

    # -- sending ------------------------------------------------------------------------------

    def send_text(self, text: str) -> bool:
        """Queue a text frame; False when the connection is already closing."""
        return self._queue(encode_frame(OP_TEXT, text.encode("utf-8")))

    def ping(self, payload: bytes = b"") -> bool:
        """Queue a ping (the client must answer with a pong carrying the same payload)."""
        return self._queue(encode_frame(OP_PING, payload[:125]))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake: send a close frame; the client then closes the socket."""
        with self._lock:
            if self._close_sent or self.closed.is_set():
                return
            self._close_sent = True
        self._outbox.put(encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123]))

    def abort(self, *, reset: bool = True) -> None:
        """Drop the connection without a closing handshake (``reset``: a TCP RST, not a FIN)."""
        self._reset = reset
        self._finish()
        try:
            # SHUT_RD only wakes our reader (nothing goes on the wire); with ``reset`` the reader
            # then closes the socket abortively (see serve()).
            self.sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
        except OSError:
            pass

    def _queue(self, data: bytes) -> bool:
        with self._lock:
            if self._close_sent or self.closed.is_set():
                return False
        self._outbox.put(data)
        return True

    def _write_loop(self) -> None:
        while True:
            data = self._outbox.get()
            if data is None:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self._finish()
                return

    def _send_now(self, data: bytes) -> None:
        # Control answers (pong, close echo) go through the one writer as well, so frames never
        # interleave on the wire; unlike _queue they are still sent while closing.
        self._outbox.put(data)

    def _finish(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._outbox.put(None)

    # -- receiving ----------------------------------------------------------------------------

    def serve(self, on_text: Callable[[str], None], on_pong: Callable[[bytes], None] | None = None) -> None:
        """Read frames until the connection ends; text messages go to ``on_text``, pongs to ``on_pong``."""
        parts: list[bytes] = []
        message_opcode = OP_TEXT
        try:
            while not self.closed.is_set():
                frame = read_frame(self.read)
                if frame.opcode == OP_PING:
                    self._send_now(encode_frame(OP_PONG, frame.payload))
                elif frame.opcode == OP_PONG:
                    self.pongs.append(frame.payload)
                    if on_pong is not None:
                        on_pong(frame.payload)
                elif frame.opcode == OP_CLOSE:
                    self.close_code = struct.unpack("!H", frame.payload[:2])[0] if len(frame.payload) >= 2 else 1005
                    with self._lock:
                        echo = not self._close_sent
                        self._close_sent = True
                    if echo:
                        self._send_now(encode_frame(OP_CLOSE, frame.payload[:2]))
                    break
                elif frame.opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                    if frame.opcode != OP_CONTINUATION:
                        message_opcode, parts = frame.opcode, []
                    parts.append(frame.payload)
                    if frame.fin:
                        data, parts = b"".join(parts), []
                        if message_opcode == OP_TEXT:
                            on_text(data.decode("utf-8", errors="replace"))
                else:
                    raise ProtocolError(f"unknown opcode {frame.opcode:#x}")
        except (EOFError, OSError, ValueError):
            pass
        except ProtocolError as exc:
            log.debug("%s: protocol error: %s", self.name, exc)
            self._send_now(encode_frame(OP_CLOSE, struct.pack("!H", 1002)))
        finally:
            self._finish()
            self._writer.join(timeout=2)
            if self._reset:
                _reset(self.sock)
            else:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST and no FIN, as when a load balancer or NAT drops a connection.

    SO_LINGER with a zero timeout makes close() send RST; the descriptor is closed here (not by
    the HTTP server, which would send a FIN first), so the peer's next read fails at once.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(sock.detach())
    except OSError:
        pass
