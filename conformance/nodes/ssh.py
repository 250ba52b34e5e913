"""The SSH transport, on paramiko: keys or ssh-agent, a bastion, sudo, host key policies.

- Authentication: a private key file (ed25519, ECDSA, RSA; an encrypted key must be
  loaded into ssh-agent instead) and/or ssh-agent (``agent: true``, ``SSH_AUTH_SOCK``).
  Passwords are not supported, and ``~/.ssh`` keys are never tried implicitly.
- Host keys: ``strict`` (default) accepts only keys listed in ``known_hosts``;
  ``accept-new`` appends unknown hosts' keys to ``known_hosts`` but rejects changed
  ones, like OpenSSH's ``StrictHostKeyChecking=accept-new``; ``ignore`` accepts
  anything (a warning is issued once per process).
- A bastion (jump host) is dialled first; the node is reached through a
  ``direct-tcpip`` channel of the bastion's connection (OpenSSH's ProxyJump).
- Every command runs as ``sh -c CMD`` (``sudo -n -- sh -c CMD`` with ``sudo: true``:
  never a password prompt; if sudo wants one the error says to allow passwordless
  sudo or switch sudo off), started by a tiny wrapper that reports its session id on
  stderr (removed again), see :func:`wrap`.
- One connection per shell, opened on the first command; a connection that drops
  (during connect or mid-command) is re-opened once and the command run again, since
  node commands are read-only probes; a second drop is a :class:`NodeAccessError`.
- On a command timeout the channel is closed, every process of the command's login
  session is sent SIGKILL from a second channel (OpenSSH refuses the protocol's
  ``signal`` request for many setups), and :class:`NodeCommandTimeout` is raised with
  what was printed so far.

Nothing secret is logged: key paths and user names appear in messages, key contents never.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import logging
import os
import re
import secrets
import select
import shlex
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import paramiko

from conformance.inventory import Bastion, HostKeyPolicy, NodeOverride, Ssh
from conformance.nodes.base import (
    CommandResult,
    NodeAccessError,
    NodeCommandTimeout,
    NodeShell,
    ShellRequest,
    node_address,
    tail,
)

log = logging.getLogger(__name__)

READ_CHUNK = 65536
WAKE_INTERVAL = 0.5  # upper bound on one select() wait: re-check the connection's health

# What a dropped connection looks like (mid-session or during the handshake).
DROPS: tuple[type[BaseException], ...] = (paramiko.SSHException, EOFError, OSError)

_IGNORE_WARNED = False
_IGNORE_LOCK = threading.Lock()


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in to one node (the inventory resolved for that node)."""

    host: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    agent: bool = False
    known_hosts: str | None = None
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    sudo: bool = False
    bastion: Bastion | None = None
    connect_timeout: float = 10.0
    # inventory fields named in error messages
    address_field: str = "nodes.address"
    port_field: str = "nodes.ssh.port"
    user_field: str = "nodes.ssh.user"

    @classmethod
    def for_node(
        cls, node_name: str, address: str, ssh: Ssh, override: NodeOverride | None = None
    ) -> SshTarget:
        """The inventory's ``nodes.ssh`` with ``nodes.overrides[node_name]`` applied."""
        over = f"nodes.overrides.{node_name}"
        user = override.user if override else None
        port = override.port if override else None
        return cls(
            host=address,
            port=port or ssh.port,
            user=user or ssh.user or getpass.getuser(),
            key_file=ssh.key_file,
            agent=ssh.agent,
            known_hosts=ssh.known_hosts,
            host_key_policy=ssh.host_key_policy,
            sudo=ssh.sudo,
            bastion=ssh.bastion,
            connect_timeout=ssh.connect_timeout,
            address_field=f"{over}.address"
            if override and override.address
            else f"nodes.address, or {over}.address",
            port_field=f"{over}.port" if port else "nodes.ssh.port",
            user_field=f"{over}.user" if user else "nodes.ssh.user",
        )


def connect(request: ShellRequest) -> SshShell:
    """The registry's entry: a (not yet connected) SSH shell for ``request.node_name``."""
    address = node_address(request.node_name, request.addresses, request.nodes)
    target = SshTarget.for_node(
        request.node_name,
        address,
        request.nodes.ssh or Ssh(),
        request.nodes.overrides.get(request.node_name),
    )
    return SshShell(request.node_name, target, command_timeout=request.timeouts.command)


# --- host key policies ----------------------------------------------------------------------


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"unknown host key for {hostname}")
        self.hostname = hostname
        self.key = key


class _Reject(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise _UnknownHostKey(hostname, key)


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Add an unknown host's key to the known_hosts file (changed keys still fail:
    paramiko raises BadHostKeyException before asking the policy)."""

    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        path = Path(self.known_hosts)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Appended under a lock: xdist workers may add keys to one file at once.
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            if line not in handle.read().splitlines(keepends=True):
                handle.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)
        log.info("accept-new: added the %s host key of %s to %s", key.get_name(), hostname, path)


def _warn_ignore_once() -> None:
    global _IGNORE_WARNED
    with _IGNORE_LOCK:
        if _IGNORE_WARNED:
            return
        _IGNORE_WARNED = True
    message = (
        "nodes.ssh.host_key_policy: ignore: node host keys are not verified, so anyone on "
        "the path can impersonate a node; use strict (with known_hosts) or accept-new"
    )
    log.warning(message)
    warnings.warn(message, UserWarning, stacklevel=4)


# --- the shell -------------------------------------------------------------------------------


class SshShell(NodeShell):
    """Commands on one node over SSH. Thread-safe (commands are serialized)."""

    def __init__(self, name: str, target: SshTarget, *, command_timeout: float = 60.0) -> None:
        super().__init__(name, command_timeout=command_timeout)
        self.target = target
        self.connects = 0  # successful connections so far (1 + reconnects)
        self._client: paramiko.SSHClient | None = None
        self._bastion: paramiko.SSHClient | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        via = f" via {self.target.bastion.host}" if self.target.bastion else ""
        return f"SshShell({self.name}: {self.target.user}@{self._where()}{via})"

    # --- public -----------------------------------------------------------------------

    def _exec(self, text: str, *, sudo: bool | None, timeout: float) -> tuple[str, str, int]:
        use_sudo = self.target.sudo if sudo is None else sudo
        with self._lock:
            result = self._run_reconnecting_once(text, use_sudo, timeout)
        if use_sudo:
            self._check_sudo(result)
        return result.stdout, result.stderr, result.exit_code

    def _run_reconnecting_once(self, text: str, sudo: bool, limit: float) -> CommandResult:
        try:
            return self._exec_on(self._connected(), text, sudo, limit)
        except (NodeAccessError, NodeCommandTimeout):
            raise
        except DROPS as exc:
            self._drop()
            first = exc
        log.info("node %s: SSH connection lost (%s); reconnecting", self.name, _describe(first))
        try:
            return self._exec_on(self._connected(), text, sudo, limit)
        except (NodeAccessError, NodeCommandTimeout):
            raise
        except DROPS as exc:
            self._drop()
            raise NodeAccessError(
                self.name,
                f"the SSH connection failed ({_describe(first)}), and again after a "
                f"reconnect ({_describe(exc)})",
                where=self._where(),
                fix=f"check the node's sshd and network; {self.target.address_field}",
            ) from exc

    def connect(self) -> None:
        """Connect now (commands connect on demand); raises NodeAccessError."""
        with self._lock:
            self._connected()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> SshShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connection --------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.target.host}:{self.target.port}"

    def _drop(self) -> None:
        for client in (self._client, self._bastion):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._client = None
        self._bastion = None

    def _connected(self) -> paramiko.Transport:
        if self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return transport
            self._drop()
        self._connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None:  # pragma: no cover - connect() leaves a transport
            raise EOFError("no transport after connect")
        return transport

    def _client_for(self, label: str, where: str) -> paramiko.SSHClient:
        """An SSHClient with the host key policy of the inventory."""
        client = paramiko.SSHClient()
        policy = self.target.host_key_policy
        known = self.target.known_hosts
        if policy is HostKeyPolicy.IGNORE:
            _warn_ignore_once()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            return client
        if known is None:
            if policy is HostKeyPolicy.STRICT:
                raise NodeAccessError(
                    self.name,
                    f"host_key_policy is strict but no known_hosts file is set ({label})",
                    where=where,
                    fix="nodes.ssh.known_hosts, or nodes.ssh.host_key_policy: accept-new",
                )
            raise NodeAccessError(
                self.name,
                "host_key_policy: accept-new needs a known_hosts file to add keys to",
                where=where,
                fix="nodes.ssh.known_hosts",
            )
        if os.path.exists(known):
            try:
                client.get_host_keys().load(known)
            except (OSError, paramiko.SSHException) as exc:
                raise NodeAccessError(
                    self.name,
                    f"cannot read known_hosts {known}: {exc}",
                    where=where,
                    fix="nodes.ssh.known_hosts",
                ) from None
        if policy is HostKeyPolicy.ACCEPT_NEW:
            client.set_missing_host_key_policy(_AcceptNew(known))
        else:
            client.set_missing_host_key_policy(_Reject())
        return client

    def _auth(self, key_file: str | None, where: str, field: str) -> paramiko.PKey | None:
        if key_file is None:
            if not self.target.agent:
                raise NodeAccessError(
                    self.name,
                    "no SSH key file and agent is off: nothing to log in with",
                    where=where,
                    fix=f"{field}, or nodes.ssh.agent: true",
                )
            if not os.environ.get("SSH_AUTH_SOCK"):
                raise NodeAccessError(
                    self.name,
                    "nodes.ssh.agent is true but SSH_AUTH_SOCK is not set (no ssh-agent)",
                    where=where,
                    fix=f"start ssh-agent and ssh-add the key, or set {field}",
                )
            return None
        path = os.path.expanduser(key_file)
        if not os.path.isfile(path):
            raise NodeAccessError(
                self.name, f"SSH key file {path} does not exist", where=where, fix=field
            )
        try:
            try:
                return paramiko.PKey.from_path(path)
            except TypeError as exc:  # cryptography's word for an encrypted OpenSSH key
                if "password" in str(exc).lower():
                    raise paramiko.PasswordRequiredException(str(exc)) from None
                raise ValueError(str(exc)) from None
        except paramiko.PasswordRequiredException:
            raise NodeAccessError(
                self.name,
                f"SSH key file {path} is encrypted; passphrases are not supported",
                where=where,
                fix="load the key into ssh-agent and set nodes.ssh.agent: true",
            ) from None
        except (paramiko.SSHException, ValueError, OSError) as exc:
            raise NodeAccessError(
                self.name,
                f"cannot load SSH key file {path} ({type(exc).__name__}: {exc}); "
                "ed25519, ECDSA and RSA keys in OpenSSH or PEM format are supported",
                where=where,
                fix=field,
            ) from None

    def _login(
        self,
        client: paramiko.SSHClient,
        host: str,
        port: int,
        user: str,
        key_file: str | None,
        *,
        sock: paramiko.Channel | None,
        where: str,
        fields: tuple[str, str, str, str],  # address, port, user, key fields for messages
    ) -> None:
        address_field, port_field, user_field, key_field = fields
        pkey = self._auth(key_file, where, key_field)
        timeout = self.target.connect_timeout
        known = self.target.known_hosts
        try:
            client.connect(
                host,
                port=port,
                username=user,
                pkey=pkey,
                sock=sock,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                allow_agent=self.target.agent,
                look_for_keys=False,
            )
        except _UnknownHostKey as exc:
            raise NodeAccessError(
                self.name,
                f"host key of {exc.hostname} ({exc.key.get_name()}) is not in known_hosts {known}",
                where=where,
                fix="add it to nodes.ssh.known_hosts (ssh-keyscan), or "
                "nodes.ssh.host_key_policy: accept-new",
            ) from None
        except paramiko.BadHostKeyException as exc:
            raise NodeAccessError(
                self.name,
                f"host key of {exc.hostname} CHANGED: known_hosts {known} lists a different "
                f"{exc.expected_key.get_name()} key (the node was reinstalled, or someone is "
                "in the middle); accept-new does not replace keys",
                where=where,
                fix=f"verify the node, then `ssh-keygen -R {host} -f {known}` "
                "(nodes.ssh.known_hosts)",
            ) from None
        except paramiko.AuthenticationException as exc:
            how = " and ".join(
                part
                for part in (
                    f"key {key_file}" if key_file else "",
                    "ssh-agent" if self.target.agent else "",
                )
                if part
            )
            raise NodeAccessError(
                self.name,
                f"authentication as {user!r} with {how or 'no credentials'} was refused "
                f"({exc}); the user's authorized_keys must hold the public key",
                where=where,
                fix=f"{user_field}, {key_field}",
            ) from None
        except socket.gaierror as exc:
            raise NodeAccessError(
                self.name,
                f"cannot resolve {host!r} ({exc.strerror})",
                where=where,
                fix=address_field,
            ) from None
        except TimeoutError:
            raise NodeAccessError(
                self.name,
                f"no SSH answer within {timeout:g}s (address or port wrong, or filtered)",
                where=where,
                fix=f"{address_field}; {port_field}; nodes.ssh.connect_timeout",
            ) from None
        except (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError):
            raise NodeAccessError(
                self.name,
                f"connection refused: nothing listens on port {port}",
                where=where,
                fix=f"{port_field}; is sshd running on the node?",
            ) from None
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
                raise NodeAccessError(
                    self.name,
                    f"{host} is unreachable from here ({exc.strerror})",
                    where=where,
                    fix=f"{address_field}, or a bastion: nodes.ssh.bastion",
                ) from None
            raise  # a dropped connection: the caller retries once

    def _connect(self) -> None:
        target = self.target
        where = self._where()
        sock: paramiko.Channel | None = None
        if target.bastion is not None:
            bastion = target.bastion
            jump_where = f"{bastion.host}:{bastion.port}"
            where = f"{where} via bastion {jump_where}"
            jump = self._client_for("bastion", jump_where)
            try:
                self._login(
                    jump,
                    bastion.host,
                    bastion.port,
                    bastion.user or target.user,
                    bastion.key_file or target.key_file,
                    sock=None,
                    where=f"bastion {jump_where}",
                    fields=(
                        "nodes.ssh.bastion.host",
                        "nodes.ssh.bastion.port",
                        "nodes.ssh.bastion.user",
                        "nodes.ssh.bastion.key_file" if bastion.key_file else "nodes.ssh.key_file",
                    ),
                )
                jump_transport = jump.get_transport()
                if jump_transport is None:  # pragma: no cover - connect() leaves a transport
                    raise EOFError("bastion connection has no transport")
                try:
                    sock = jump_transport.open_channel(
                        "direct-tcpip",
                        (target.host, target.port),
                        ("127.0.0.1", 0),
                        timeout=target.connect_timeout,
                    )
                except paramiko.ChannelException as exc:
                    raise NodeAccessError(
                        self.name,
                        f"the bastion could not open a connection to {self._where()} "
                        f"({exc.text or exc.code})",
                        where=where,
                        fix=f"{target.address_field}; {target.port_field}; the bastion must "
                        "allow TCP forwarding",
                    ) from None
            except BaseException:
                jump.close()
                raise
            self._bastion = jump
        client = self._client_for("node", where)
        try:
            self._login(
                client,
                target.host,
                target.port,
                target.user,
                target.key_file,
                sock=sock,
                where=where,
                fields=(
                    target.address_field,
                    target.port_field,
                    target.user_field,
                    "nodes.ssh.key_file",
                ),
            )
        except BaseException:
            client.close()
            self._drop()
            raise
        self._client = client
        self.connects += 1
        log.debug("node %s: connected to %s as %s", self.name, where, target.user)

    # --- commands ---------------------------------------------------------------------------

    def _exec_on(
        self, transport: paramiko.Transport, text: str, sudo: bool, timeout: float
    ) -> CommandResult:
        started = time.monotonic()
        token = f"conformance-{secrets.token_hex(8)}"
        out, err, code = self._stream(
            transport, wrap(text, sudo=sudo, token=token), started + timeout
        )
        session, stderr = _split_session(token, _decode(err))
        if code is None:  # timed out
            self._kill_session(transport, session, sudo)
            raise self._timed_out(text, timeout, _decode(out), stderr)
        return CommandResult(
            text, _decode(out), stderr, code, time.monotonic() - started, self.name
        )

    def _stream(
        self, transport: paramiko.Transport, wire: str, deadline: float
    ) -> tuple[bytearray, bytearray, int | None]:
        """Run ``wire`` on a new channel: (stdout, stderr, exit code or None on timeout).
        A connection lost meanwhile raises EOFError (the caller reconnects)."""
        channel = transport.open_session(timeout=self.target.connect_timeout)
        out = bytearray()
        err = bytearray()
        try:
            channel.exec_command(wire)
            channel.shutdown_write()  # no stdin: commands that read it see EOF
            while not (channel.exit_status_ready() and channel.eof_received) and not (
                channel.closed
            ):
                _drain(channel, out, err)
                if not transport.is_active():
                    raise EOFError("the SSH connection closed during the command")
                left = deadline - time.monotonic()
                if left <= 0:
                    _drain(channel, out, err)
                    return out, err, None
                select.select([channel], [], [], min(left, WAKE_INTERVAL))
            _drain(channel, out, err)
            # paramiko marks the status "ready" (as -1) also when it drops the channel
            # because the connection died, so look at the value itself.
            if channel.exit_status >= 0:
                return out, err, channel.exit_status
            if not channel.eof_received or not transport.is_active():
                raise EOFError("the SSH connection closed during the command")
            return out, err, -1  # closed without an exit status: killed by a signal
        finally:
            channel.close()

    def _kill_session(self, transport: paramiko.Transport, session: int | None, sudo: bool) -> None:
        """SIGKILL every process of a timed-out command's login session, best effort.

        (OpenSSH refuses the protocol's ``signal`` request in many setups, so the
        session is killed from a second channel, by its id, which the wrapper printed.)
        """
        if session is None or session <= 1 or not transport.is_active():
            return
        kill = f"kill -KILL -- -{session} 2>/dev/null; pkill -KILL -s {session} 2>/dev/null; :"
        wire = f"sudo -n -- sh -c {shlex.quote(kill)}" if sudo else kill
        try:
            self._stream(transport, wire, time.monotonic() + self.target.connect_timeout)
        except Exception as exc:  # the timeout is what gets reported
            log.info("node %s: could not kill timed-out session %s: %s", self.name, session, exc)

    def _check_sudo(self, result: CommandResult) -> None:
        user = self.target.user
        stderr = result.stderr
        if result.exit_code == 1 and "a password is required" in stderr:
            raise NodeAccessError(
                self.name,
                f"sudo asks user {user!r} for a password (`sudo -n` refused: "
                f"{tail(stderr, 2)}); passwords are not supported",
                where=self._where(),
                fix=f"allow passwordless sudo for {user} on the node (e.g. '{user} ALL=(ALL) "
                f"NOPASSWD: ALL' in /etc/sudoers.d/), or set nodes.ssh.sudo: false and log "
                f"in as root ({self.target.user_field})",
            )
        if result.exit_code == 1 and "must have a tty" in stderr:
            raise NodeAccessError(
                self.name,
                f"sudo requires a tty for {user!r} (requiretty in sudoers)",
                where=self._where(),
                fix=f"'Defaults:{user} !requiretty' in the node's sudoers, or "
                "nodes.ssh.sudo: false",
            )
        if result.exit_code == 127 and _SUDO_MISSING.search(stderr):
            raise NodeAccessError(
                self.name,
                "sudo is not installed on the node",
                where=self._where(),
                fix=f"install sudo, or set nodes.ssh.sudo: false and log in as root "
                f"({self.target.user_field})",
            )


_SUDO_MISSING = re.compile(r"(^|: )sudo: (command )?not found", re.MULTILINE)


def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray) -> None:
    while channel.recv_ready():
        chunk = channel.recv(READ_CHUNK)
        if not chunk:
            break
        out += chunk
    while channel.recv_stderr_ready():
        chunk = channel.recv_stderr(READ_CHUNK)
        if not chunk:
            break
        err += chunk


def wrap(text: str, *, sudo: bool, token: str) -> str:
    """The command line sent to the node's login shell.

    ``sh -c TEXT``, under ``sudo -n --`` if asked, exec'd by a shell that first prints
    ``TOKEN <its pid>`` to stderr: that pid is the SSH session's id (sshd makes the login
    shell a session leader), which a timeout needs to kill everything the command started.
    The line is removed from stderr again (:func:`_split_session`).
    """
    inner = f"sh -c {shlex.quote(text)}"
    if sudo:
        inner = f"sudo -n -- {inner}"
    return "exec sh -c " + shlex.quote(f'echo "{token} $$" >&2; exec {inner}')


def _split_session(token: str, stderr: str) -> tuple[int | None, str]:
    """(session id, stderr without the wrapper's line)."""
    first, newline, rest = stderr.partition("\n")
    if not first.startswith(token + " "):
        return None, stderr
    pid = first[len(token) + 1 :].strip()
    return (int(pid) if pid.isdigit() else None), rest if newline else ""


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = ["SshShell", "SshTarget", "connect"]
