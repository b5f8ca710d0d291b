"""Configuration of the NVE agent: frozen dataclasses loaded from TOML.

Precedence (highest first): command-line flag, ``NVO3_*`` environment variable, file,
default; the CLI resolves it once and passes a :class:`ServerConfig`.

Example file::

    listen = "127.0.0.1"
    port = 830
    state-dir = "/var/lib/nvo3-nve"
    users-file = "/etc/nvo3-nve/users.toml"
    yang-dirs = ["/usr/share/nvo3/extra-yang"]
    load = "running"            # or "startup"
    max-message-size = 33554432
    send-timeout = 60.0         # seconds a peer may stall reading a reply before it is closed
    hello-timeout = 60.0        # seconds a new session may take to send its <hello>
    unix-socket = "/run/nvo3-nve/netconf.sock"   # optional: sessions relayed by sshd
    notification-queue = 1024               # per subscriber, before it is dropped
    notification-queue-bytes = 67108864
    replay-log-records = 10000              # the RFC 5277 replay log's bounds
    replay-log-bytes = 67108864
    nacm-recovery-user = "recovery"         # RFC 8341 sec. 3.6.1: bypasses NACM
    nacm-bootstrap-group = "admin"          # may do all while /nacm has no rule-list
    dataplane = "linux"                     # or "none" (the default: datastore only)
    dataplane-netns = "nve1"                # the network namespace it programs
    dataplane-underlay-interface = "ul0"    # VXLAN devices are bound to it (optional)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nvo3_netconf.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_YANG_DIR = PACKAGE_ROOT / "yang"


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``build_server`` needs.

    Attributes:
        listen: address to bind.
        port: TCP port (830 is the IANA NETCONF-over-SSH port; 0 picks a free one).
        state_dir: where running, startup, the host key and logs of commits live.
        users_file: TOML users file (see ``server/auth.py``).
        host_key: host key path (default ``state_dir/ssh_host_key``; created if absent).
        yang_dirs: extra directories whose modules are loaded and served.
        own_yang_dir: the project's modules (``yang/``, with ``yang/standard``).
        load: ``running`` (resume the last committed running) or ``startup``.
        max_message_size: largest message accepted from a peer, in bytes.
        send_timeout: seconds a send to a peer may make no progress (the peer stopped
            reading) before that peer's session is closed.
        hello_timeout: seconds a new session may take to send its ``<hello>`` before it
            is closed (RFC 6470 termination-reason ``timeout``); 0 waits for ever.
        unix_socket: also accept sessions relayed by OpenSSH's sshd through this Unix
            socket (``Subsystem netconf socat STDIO UNIX-CONNECT:<path>``).
        builtin_ssh: run the built-in SSH listener (``listen``/``port``).
        notification_queue: notifications that may wait for one subscriber; past it (or
            ``notification_queue_bytes``) the subscriber's session is closed.
        notification_queue_bytes: bytes of notifications that may wait for one subscriber.
        replay_log_records: notifications kept for replay (RFC 5277 sec. 3.3); the
            oldest are dropped past it or ``replay_log_bytes``.
        replay_log_bytes: bytes of notifications kept for replay.
        nacm_recovery_user: the user whose sessions are recovery sessions (RFC 8341
            sec. 3.6.1): NACM does not apply to them. None: no recovery user.
        nacm_bootstrap_group: while running configures no NACM rule-list, the members
            of this group (users file or ``/nacm/groups``) may do everything, so that a
            new agent can be configured; ``""`` disables it (RFC 8341's defaults alone).
        dataplane: the forwarding plane the configuration is carried into: ``none``
            (datastore only) or ``linux`` (``nvo3_netconf.dataplane``).
        dataplane_netns: the network namespace the ``linux`` data plane programs (None:
            the agent's own namespace).
        dataplane_underlay_interface: the underlay interface VXLAN devices are bound to
            (needed for underlay multicast flooding). The underlay address itself is
            configuration: ``/nve:nve/underlay-address``.
        reply_cache_entries: serialized get-config replies kept for repeated requests
            until the datastores change (``protocol/reply_cache.py``), by request and by
            message (``protocol/message_key.py``); 0 disables both.
    """

    listen: str = "127.0.0.1"
    port: int = 830
    state_dir: Path = Path("/var/lib/nvo3-nve")
    users_file: Path | None = None
    host_key: Path | None = None
    yang_dirs: tuple[Path, ...] = ()
    own_yang_dir: Path = DEFAULT_YANG_DIR
    load: str = "running"
    max_message_size: int = 32 * 1024 * 1024
    send_timeout: float = 60.0
    hello_timeout: float = 60.0
    unix_socket: Path | None = None
    builtin_ssh: bool = True
    notification_queue: int = 1024
    notification_queue_bytes: int = 64 * 1024 * 1024
    replay_log_records: int = 10_000
    replay_log_bytes: int = 64 * 1024 * 1024
    nacm_recovery_user: str | None = None
    nacm_bootstrap_group: str = "admin"
    dataplane: str = "none"
    dataplane_netns: str | None = None
    dataplane_underlay_interface: str | None = None
    reply_cache_entries: int = 128
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host_key_path(self) -> Path:
        """Where the host key is kept."""
        return self.host_key or self.state_dir / "ssh_host_key"

    def search_dirs(self) -> list[Path]:
        """The YANG directories to load, ours first."""
        return [self.own_yang_dir, self.own_yang_dir / "standard", *self.yang_dirs]

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> ServerConfig:
        """Read a TOML file (keys with dashes) and apply ``overrides`` (non-None values).

        Raises:
            ConfigError: unreadable file, unknown key or wrong type.
        """
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read {path}: {error}") from None
        return cls.from_mapping(raw, base=path.parent).with_overrides(**overrides)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, base: Path = Path(".")) -> ServerConfig:
        """Build from a mapping with TOML key names; relative paths are taken from ``base``."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                extra[key] = value
                continue
            values[name] = value
        for name in ("state_dir", "users_file", "host_key", "own_yang_dir", "unix_socket"):
            if name in values:
                values[name] = (base / Path(values[name])).resolve()
        if "yang_dirs" in values:
            values["yang_dirs"] = tuple((base / Path(p)).resolve() for p in values["yang_dirs"])
        try:
            config = cls(**values, extra=extra)
        except TypeError as error:
            raise ConfigError(str(error)) from None
        config.check()
        return config

    def with_overrides(self, **overrides: Any) -> ServerConfig:
        """A copy with every non-None override applied."""
        config = replace(self, **{k: v for k, v in overrides.items() if v is not None})
        config.check()
        return config

    def check(self) -> None:
        """Reject impossible settings.

        Raises:
            ConfigError: a setting is out of range.
        """
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of 0..65535")
        if self.load not in ("running", "startup"):
            raise ConfigError(f"load must be 'running' or 'startup', not {self.load!r}")
        if self.max_message_size < 4096:
            raise ConfigError("max-message-size must be at least 4096 bytes")
        if self.dataplane not in ("none", "linux"):
            raise ConfigError(f"dataplane must be 'none' or 'linux', not {self.dataplane!r}")
        if not self.send_timeout > 0:
            raise ConfigError("send-timeout must be a positive number of seconds")
        if not self.hello_timeout >= 0:
            raise ConfigError("hello-timeout must be 0 (none) or a positive number of seconds")
        if not self.builtin_ssh and self.unix_socket is None:
            raise ConfigError("with the built-in SSH listener off, a unix-socket is needed")
        if self.reply_cache_entries < 0:
            raise ConfigError("reply-cache-entries must be 0 (no cache) or more")
        for name in ("notification_queue", "notification_queue_bytes",
                     "replay_log_records", "replay_log_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
