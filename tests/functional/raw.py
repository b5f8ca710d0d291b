"""A raw NETCONF-over-SSH client for tests that must send what ncclient never would."""

from __future__ import annotations

import paramiko

from nvo3_netconf.constants import CAP_BASE_10, CAP_BASE_11, FramingVersion
from nvo3_netconf.protocol.messages import build_hello
from nvo3_netconf.transport.framing import FrameDecoder, encode_message


class RawSession:
    """Opens the netconf subsystem and exchanges framed bytes with blocking reads."""

    def __init__(self, port: int, user: str, password: str, *,
                 window_size: int | None = None) -> None:
        self.transport = paramiko.Transport(("127.0.0.1", port))
        self.transport.connect(username=user, password=password)
        self.channel = self.transport.open_session(window_size=window_size)
        self.channel.settimeout(20)
        self.channel.invoke_subsystem("netconf")
        self.decoder = FrameDecoder()
        self.framing = FramingVersion.EOM
        self.server_hello = self.read()

    def hello(self, capabilities: tuple[str, ...] = (CAP_BASE_10, CAP_BASE_11)) -> None:
        self.send_raw(encode_message(build_hello(capabilities), FramingVersion.EOM))
        if CAP_BASE_11 in capabilities and CAP_BASE_11.encode() in self.server_hello:
            self.framing = FramingVersion.CHUNKED
            self.decoder.switch_to_chunked()

    def send(self, body: bytes) -> None:
        self.send_raw(encode_message(body, self.framing))

    def send_raw(self, data: bytes) -> None:
        self.channel.sendall(data)

    def read(self) -> bytes:
        """The next message; raises EOFError when the server closed the channel."""
        while True:
            message = self.decoder.next_message()
            if message is not None:
                return message
            data = self.channel.recv(65536)
            if not data:
                raise EOFError("channel closed")
            self.decoder.receive_data(data)

    def closed_by_server(self) -> bool:
        try:
            self.read()
        except (EOFError, OSError):
            return True
        return False

    def close(self) -> None:
        self.transport.close()
