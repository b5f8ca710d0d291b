"""The composition root of the NVE agent: ``build_server(config)``.

Builds the YANG context, schema view, validator, datastores, scheduler, confirmed
commits, the notification bus (RFC 5277) with its replay log, the NVE service (TES
signalling, VM lifecycle: ``nvo3_netconf.nve``), the operation table and the SSH
listener, and hands each to what needs it.
:class:`RunningServer` is a context manager owning all of them.
"""

from __future__ import annotations

import logging
from types import TracebackType

from nvo3_netconf.constants import (
    CAP_BASE_10,
    CAP_BASE_11,
    CAP_CANDIDATE,
    CAP_CONFIRMED_COMMIT,
    CAP_INTERLEAVE,
    CAP_NOTIFICATION,
    CAP_ROLLBACK_ON_ERROR,
    CAP_STARTUP,
    CAP_VALIDATE,
    CAP_WITH_DEFAULTS,
    CAP_WRITABLE_RUNNING,
    CAP_XPATH,
    CAP_YANG_LIBRARY,
    NS_MONITORING,
    NS_NC,
    NS_NOTIF,
    NS_NVO3_TES,
)
from nvo3_netconf.dataplane import DataplaneApplier, DataplaneError, build_applier
from nvo3_netconf.datastore.confirmed import ConfirmedCommits
from nvo3_netconf.datastore.persist import DatastoreFiles
from nvo3_netconf.datastore.store import DatastoreManager
from nvo3_netconf.errors import ConfigError
from nvo3_netconf.nacm import build_nacm
from nvo3_netconf.notifications import NotificationBus, QueueLimits, ReplayLog
from nvo3_netconf.nve.resources import check_vn_limit
from nvo3_netconf.nve.service import NVEService
from nvo3_netconf.protocol.dispatch import OperationHandler
from nvo3_netconf.protocol.ops import (
    commit,
    edit,
    lock,
    retrieve,
    schema,
    session_ops,
    subscription,
)
from nvo3_netconf.protocol.session import NetconfSession
from nvo3_netconf.scheduler import Clock, Scheduler
from nvo3_netconf.schema import SchemaTree, Validator, YangContext
from nvo3_netconf.schema.incremental import IncrementalValidator
from nvo3_netconf.server.auth import UserDatabase
from nvo3_netconf.server.config import ServerConfig
from nvo3_netconf.server.core import NetconfServer
from nvo3_netconf.transport.ssh import ByteLink, PeerInfo, SSHServer, load_or_create_host_key
from nvo3_netconf.transport.unix import UnixSocketServer

logger = logging.getLogger(__name__)


def base_handlers() -> dict[tuple[str, str], OperationHandler]:
    """The operations of RFC 6241, RFC 6022 get-schema, RFC 5277, in one explicit table."""
    nc = NS_NC
    return {
        (nc, "get"): retrieve.get,
        (nc, "get-config"): retrieve.get_config,
        (nc, "edit-config"): edit.edit_config,
        (nc, "copy-config"): edit.copy_config,
        (nc, "delete-config"): edit.delete_config,
        (nc, "validate"): edit.validate,
        (nc, "lock"): lock.lock,
        (nc, "unlock"): lock.unlock,
        (nc, "commit"): commit.commit,
        (nc, "discard-changes"): commit.discard_changes,
        (nc, "cancel-commit"): commit.cancel_commit,
        (nc, "close-session"): session_ops.close_session,
        (nc, "kill-session"): session_ops.kill_session,
        (NS_MONITORING, "get-schema"): schema.get_schema,
        (NS_NOTIF, "create-subscription"): subscription.create_subscription,
    }


def tes_handlers(nve: NVEService) -> dict[tuple[str, str], OperationHandler]:
    """The nvo3-tes signalling RPCs (seed 003 sec. 3.3), answered by the NVE service."""
    tes = NS_NVO3_TES
    return {
        (tes, "pre-associate"): nve.pre_associate,
        (tes, "associate"): nve.associate,
        (tes, "suspend"): nve.suspend,
        (tes, "resume"): nve.resume,
        (tes, "emigrate"): nve.emigrate,
        (tes, "immigrate"): nve.immigrate,
        (tes, "terminate"): nve.terminate,
        (tes, "keep-alive"): nve.keep_alive,
        (tes, "acknowledge-local-change"): nve.acknowledge_local_change,
    }


def capabilities_for(yang: YangContext) -> list[str]:
    """The hello capabilities: protocol ones, the YANG library and a URI per module.

    RFC 7950 sec. 5.6.4: the ``yang-library:1.0`` capability tells clients that
    ``/modules-state`` lists every module, import-only ones included (which the module
    URIs, one per implemented module, leave out); its ``module-set-id`` changes with the
    module set. A module URI carries the module's enabled features and the modules that
    deviate it (RFC 6020 / RFC 7950 sec. 5.6.4, ``&features=`` and ``&deviations=``),
    as the YANG library lists them.
    """
    library = yang.module("ietf-yang-library")
    assert library is not None  # one of the SERVER_MODULES, always loaded
    caps = [
        CAP_BASE_10,
        CAP_BASE_11,
        CAP_WRITABLE_RUNNING,
        CAP_CANDIDATE,
        CAP_CONFIRMED_COMMIT,
        "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
        CAP_ROLLBACK_ON_ERROR,
        CAP_VALIDATE,
        "urn:ietf:params:netconf:capability:validate:1.0",
        CAP_STARTUP,
        CAP_XPATH,
        CAP_NOTIFICATION,
        # Sessions keep accepting operations while subscribed (RFC 5277 sec. 6).
        CAP_INTERLEAVE,
        f"{CAP_WITH_DEFAULTS}?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
        f"{CAP_YANG_LIBRARY}?revision={library.revision}&module-set-id={yang.content_id}",
    ]
    for module in yang.served_modules:
        if not module.implemented or module.name == "ietf-yang-schema-mount":
            continue
        uri = f"{module.namespace}?module={module.name}"
        if module.revision:
            uri += f"&revision={module.revision}"
        if module.features:
            uri += "&features=" + ",".join(module.features)
        if module.deviations:
            uri += "&deviations=" + ",".join(module.deviations)
        caps.append(uri)
    return caps


class RunningServer:
    """A started NVE agent; stop it with :meth:`stop` or a ``with`` block.

    Attributes:
        address: the bound (host, port).
        netconf: the shared server state.
        nve: the NVE behaviour (TES signalling, VM lifecycle), if built.
        dataplane: the forwarding plane's applier, if the agent has one.
    """

    def __init__(
        self, netconf: NetconfServer, ssh: SSHServer | None, unix: UnixSocketServer | None,
        *, nve: NVEService | None = None, dataplane: DataplaneApplier | None = None,
    ) -> None:
        self.netconf = netconf
        self.nve = nve
        self.dataplane = dataplane
        self._ssh = ssh
        self._unix = unix
        self.address = ssh.start() if ssh is not None else None
        self.unix_socket = unix.start() if unix is not None else None

    def stop(self) -> None:
        """Close sessions, stop listening and timers."""
        if self._ssh is not None:
            self._ssh.stop()
        self.netconf.close_all()  # sessions end as closed by the server ("other")
        if self._unix is not None:
            self._unix.stop()
        if self.nve is not None:
            self.nve.close()
        self.netconf.notifications.close()
        self.netconf.scheduler.stop()
        if self.dataplane is not None:
            self.dataplane.close()
        self.netconf.datastores.close()
        logger.info("NVE agent stopped")

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def build_server(
    config: ServerConfig, *, users: UserDatabase | None = None, clock: Clock | None = None
) -> RunningServer:
    """Build and start the agent described by ``config``.

    Args:
        config: the resolved configuration.
        users: accounts (default: read ``config.users_file``).
        clock: time source (tests inject a manual clock).

    Returns:
        The running server.

    Raises:
        ConfigError: a setting, a module or a stored datastore is invalid.
    """
    if users is None:
        if config.users_file is None:
            raise ConfigError("a users file is required: there is no anonymous access")
        users = UserDatabase.from_file(config.users_file)
    yang = YangContext.load([d for d in config.search_dirs() if d.is_dir()])
    schema_tree = SchemaTree(yang)
    files = DatastoreFiles(config.state_dir)
    datastores = DatastoreManager(
        validator=Validator(yang),
        schema=schema_tree,
        files=files,
        load_startup=config.load == "startup",
        incremental=IncrementalValidator(yang, schema_tree),
    )
    scheduler = Scheduler(clock)
    confirmed = ConfirmedCommits(datastores, scheduler, files)
    notifications = NotificationBus(
        clock=scheduler.clock,
        log=ReplayLog(config.state_dir / "notifications.log",
                      max_records=config.replay_log_records,
                      max_bytes=config.replay_log_bytes, now=scheduler.clock.time),
        scheduler=scheduler,
        limits=QueueLimits(messages=config.notification_queue,
                           bytes=config.notification_queue_bytes),
    )
    dataplane = build_applier(config.dataplane, netns=config.dataplane_netns,
                              underlay_device=config.dataplane_underlay_interface)
    if dataplane is not None:
        try:
            datastores.set_applier(dataplane, start=dataplane.start)
        except DataplaneError as error:
            dataplane.close()
            raise ConfigError(f"the {config.dataplane} data plane cannot start: {error}") from None
    datastores.add_constraint(check_vn_limit)  # /nve:nve/resource-limits/max-vns
    nve = NVEService(datastores=datastores, validator=Validator(yang), scheduler=scheduler,
                     sinks=(notifications,), dataplane=dataplane)
    # RFC 8341 NACM: its configuration is in running; the users file's groups count.
    nacm = build_nacm(yang=yang, schema=schema_tree, datastores=datastores,
                      external_groups=users.groups_of,
                      recovery_user=config.nacm_recovery_user,
                      bootstrap_group=config.nacm_bootstrap_group)
    netconf = NetconfServer(
        yang=yang,
        schema=schema_tree,
        datastores=datastores,
        scheduler=scheduler,
        confirmed=confirmed,
        capabilities=capabilities_for(yang),
        handlers={**base_handlers(), **tes_handlers(nve)},
        max_message_size=config.max_message_size,
        notifications=notifications,
        nacm=nacm,
        hello_timeout=config.hello_timeout,
        reply_cache_entries=config.reply_cache_entries,
    )
    netconf.add_state_provider(lambda session: [notifications.streams_state()])
    netconf.add_state_provider(lambda session: [nacm.state()])
    netconf.add_state_provider(nve.state)
    netconf.add_state_provider(nve.nested_state)

    def new_session(link: ByteLink, peer: PeerInfo) -> NetconfSession:
        return netconf.open_session(link, peer.user, peer.host)

    ssh = unix = None
    if config.builtin_ssh:
        ssh = SSHServer(
            host=config.listen,
            port=config.port,
            host_key=load_or_create_host_key(config.host_key_path),
            authenticator=users,
            session_factory=new_session,
            send_timeout=config.send_timeout,
        )
    if config.unix_socket is not None:
        unix = UnixSocketServer(
            path=config.unix_socket,
            session_factory=new_session,
            allowed_user=lambda name: name in users.users,
            send_timeout=config.send_timeout,
        )
    return RunningServer(netconf, ssh, unix, nve=nve, dataplane=dataplane)
