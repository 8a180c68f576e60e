"""Secret references: ``env:NAME``, ``file:PATH``, ``cmd:COMMAND``, with ``{cluster}`` expanded.

Inventories and the CLI carry references, never values, so the values live in the admin's vault
and never in a file fleet writes. Every reference of a run is resolved before any cluster is
contacted (bad input is exit 2 with nothing touched); errors name the cluster, the field and the
reference, never a value, and never a command's output (a failing vault script may print the very
secret it was asked for).

- ``env:NAME``: the environment variable, as is.
- ``file:PATH``: the file's text without its trailing newline; a relative PATH is relative to the
  inventory's folder (``base_dir``); a file readable by group or others is used, with a warning.
- ``cmd:COMMAND``: run through the shell in ``base_dir`` with a timeout (default 30 s); its stdout,
  stripped of surrounding whitespace, is the value. Its stderr is discarded. A non-zero exit or a
  timeout is an error that names the program and its exit status, never its output
  (``fleet.secrets.helper``).
- ``script:COMMAND``: run as ``cmd:`` is, read as NetApp Harvest reads a ``credentials_script``:
  YAML with a ``password`` (and optionally a ``username``) is that password, and that user name
  replaces the inventory's when the reference is a cluster's password (``username``); any other
  output, stripped, is the value. An ``authToken`` is refused: fleet logs in with basic auth.

A resolved value is cached per expanded reference, so 2,000 clusters sharing ``env:ONTAP_PASSWORD``
read it once, and ``cmd:`` lookups run at most ``max_concurrent_cmds`` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

from fleet.errors import InputError
from fleet.secrets.helper import command_name, exit_message
from fleet.secrets.secret import Secret

SCHEMES = ("env", "file", "cmd", "script")
COMMAND_SCHEMES = frozenset({"cmd", "script"})
CLUSTER_PLACEHOLDER = "{cluster}"
DEFAULT_CMD_TIMEOUT = 30.0

_log = structlog.get_logger("fleet.secrets")


def is_reference(text: str) -> bool:
    """True when ``text`` names a known scheme and something after it (``env:X``, not ``hunter2``)."""
    scheme, sep, rest = text.partition(":")
    return bool(sep) and scheme in SCHEMES and bool(rest.strip())


def is_credentials_script(ref: str | None) -> bool:
    """A ``script:`` reference: its output may name the user name too (Harvest's credentials script)."""
    return ref is not None and is_reference(ref) and ref.startswith("script:")


def expand(ref: str, cluster: str) -> str:
    """``ref`` with every ``{cluster}`` replaced by the cluster's name (no other placeholders)."""
    return ref.replace(CLUSTER_PLACEHOLDER, cluster)


@dataclass(frozen=True, slots=True)
class SecretRequest:
    """One reference to resolve for one cluster; ``purpose`` is the field, e.g. ``vars.okm_passphrase``."""

    ref: str
    cluster: str
    purpose: str = "secret"
    base_dir: Path | None = None
    source: Path | None = None  # the inventory file that holds the reference, for error messages


class _Unresolvable(Exception):
    """Why a reference could not be resolved; never carries the value or a command's stdout."""


@dataclass(frozen=True, slots=True)
class _Lookup:
    scheme: str
    target: str  # env name, absolute file path or shell command
    cwd: Path

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scheme, self.target, str(self.cwd) if self.scheme in COMMAND_SCHEMES else "")


class SecretResolver:
    """Resolves references with a cache; ``resolve`` for one, ``resolve_many`` for a whole run."""

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        cmd_timeout: float = DEFAULT_CMD_TIMEOUT,
        max_concurrent_cmds: int = 8,
    ) -> None:
        if max_concurrent_cmds < 1:
            raise ValueError("max_concurrent_cmds must be at least 1")
        self._base_dir = base_dir or Path.cwd()
        self._cmd_timeout = cmd_timeout
        self._max_concurrent_cmds = max_concurrent_cmds
        self._cache: dict[tuple[str, str, str], Secret] = {}
        self._usernames: dict[tuple[str, str, str], str] = {}  # what ``script:`` references printed

    def resolve(
        self,
        ref: str,
        cluster: str,
        *,
        purpose: str = "secret",
        base_dir: Path | None = None,
        source: Path | None = None,
    ) -> Secret:
        """The secret ``ref`` names for ``cluster``; InputError when it cannot be resolved."""
        request = SecretRequest(ref, cluster, purpose, base_dir, source)
        try:
            lookup = self._lookup(request)
            cached = self._cache.get(lookup.key)
            if cached is not None:
                return cached
            if lookup.scheme in COMMAND_SCHEMES:
                value = _read_cmd_output(_run_command(lookup.target, lookup.cwd, self._cmd_timeout))
            else:
                value = _read_local(lookup, cluster)
            return self._remember(lookup, value, request)
        except _Unresolvable as problem:
            raise _input_error(request, str(problem)) from None

    async def resolve_many(self, requests: Iterable[SecretRequest]) -> list[Secret]:
        """Resolve every request (in order), ``cmd:`` ones concurrently; all-or-nothing.

        Every request is attempted so the error can say how many failed; the InputError names the
        first failing one in request order.
        """
        requests = list(requests)
        results: list[Secret | None] = [None] * len(requests)
        problems: dict[int, str] = {}
        commands: dict[tuple[str, str, str], tuple[_Lookup, list[int]]] = {}
        for index, request in enumerate(requests):
            try:
                lookup = self._lookup(request)
                cached = self._cache.get(lookup.key)
                if cached is not None:
                    results[index] = cached
                elif lookup.scheme in COMMAND_SCHEMES:
                    commands.setdefault(lookup.key, (lookup, []))[1].append(index)
                else:
                    results[index] = self._remember(lookup, _read_local(lookup, request.cluster), request)
            except _Unresolvable as problem:
                problems[index] = str(problem)

        limit = asyncio.Semaphore(self._max_concurrent_cmds)

        async def run_one(lookup: _Lookup, indices: list[int]) -> None:
            async with limit:
                outcome = await _run_command_async(lookup.target, lookup.cwd, self._cmd_timeout)
            try:
                secret = self._remember(lookup, _read_cmd_output(outcome), requests[indices[0]])
            except _Unresolvable as problem:
                problems.update(dict.fromkeys(indices, str(problem)))
                return
            for index in indices:
                results[index] = secret

        async with asyncio.TaskGroup() as group:
            for lookup, indices in commands.values():
                group.create_task(run_one(lookup, indices))

        if problems:
            first = min(problems)
            more = len(problems) - 1
            suffix = f" (and {more} more failed)" if more else ""
            raise _input_error(requests[first], problems[first] + suffix)
        return [secret for secret in results if secret is not None]

    def username(self, request: SecretRequest) -> str | None:
        """The user name a ``script:`` reference printed with its password (``request`` resolved
        already), or None: then the inventory's user name applies."""
        if not is_credentials_script(request.ref):
            return None
        try:
            return self._usernames.get(self._lookup(request).key)
        except _Unresolvable:
            return None

    def _lookup(self, request: SecretRequest) -> _Lookup:
        if not is_reference(request.ref):
            raise _Unresolvable(
                "not a secret reference; use env:NAME, file:PATH or cmd:COMMAND (literal secrets are refused)"
            )
        scheme, _, target = expand(request.ref, request.cluster).partition(":")
        base_dir = real_dir(request.base_dir or self._base_dir)
        if scheme == "file":
            target = _real_file_text(base_dir, target)
        return _Lookup(scheme, target.strip() if scheme == "env" else target, base_dir)

    def _remember(self, lookup: _Lookup, value: str, request: SecretRequest) -> Secret:
        username = None
        if lookup.scheme == "script":
            username, value = credentials_from_output(value)
        if not value:
            raise _Unresolvable("resolves to an empty value")
        secret = Secret(value)
        self._cache[lookup.key] = secret
        if username:
            self._usernames[lookup.key] = username
        return secret


def real_dir(folder: Path | str) -> Path:
    """``folder`` with symlinks resolved, once per folder: 10,000 clusters share a handful of folders."""
    return Path(_real_absolute_dir(os.path.abspath(folder)))


def real_file(base_dir: Path | str, target: str) -> Path:
    """A ``file:`` target as an absolute path: its folder resolved (cached), its own name kept."""
    return Path(_real_file_text(base_dir, target))


@functools.lru_cache(maxsize=4096)
def _real_absolute_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _real_file_text(base_dir: Path | str, target: str) -> str:
    # Plain strings: pathlib objects cost more than the file read itself, 20,000 times per run.
    path = os.path.join(os.path.abspath(base_dir), os.path.expanduser(target))
    folder, name = os.path.split(path)
    if name in ("", ".", "..") or ".." in folder.split(os.sep):
        # ".." after a symlink means the link target's parent, as the OS reads it: resolve it all.
        return os.path.realpath(path)
    return os.path.join(_real_absolute_dir(folder), name)


def resolve_ref(
    ref: str, *, cluster: str, base_dir: Path, purpose: str, timeout: float = DEFAULT_CMD_TIMEOUT
) -> Secret:
    """Resolve one reference without a shared cache (the CLI's ``--current``/``--new`` options)."""
    return SecretResolver(base_dir=base_dir, cmd_timeout=timeout).resolve(ref, cluster, purpose=purpose)


def _input_error(request: SecretRequest, why: str) -> InputError:
    # A literal given where a reference belongs is probably the secret itself: never echo it.
    shown = repr(request.ref) if is_reference(request.ref) else "(a literal, not shown)"
    return InputError(
        f"cluster {request.cluster}: {request.purpose} reference {shown}: {why}",
        file=str(request.source) if request.source else None,
        field=request.purpose,
    )


def _read_local(lookup: _Lookup, cluster: str) -> str:
    if lookup.scheme == "env":
        value = os.environ.get(lookup.target)
        if value is None:
            raise _Unresolvable(f"environment variable {lookup.target} is not set")
        return value
    path = lookup.target
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read()
    except FileNotFoundError:
        raise _Unresolvable(f"file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unresolvable(f"file {path} cannot be read ({type(exc).__name__})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning("secret file is readable by group or others", path=path, cluster=cluster)
    return text.rstrip("\r\n")


@dataclass(frozen=True, slots=True)
class _CmdOutcome:
    command: str
    returncode: int | None  # None: killed after the timeout
    stdout: bytes
    timeout: float


def _run_command(command: str, cwd: Path, timeout: float) -> _CmdOutcome:
    # A session of its own, so a timeout kills the shell *and* what it started.
    with subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            return _CmdOutcome(command, None, b"", timeout)
        return _CmdOutcome(command, proc.returncode, stdout, timeout)


async def _run_command_async(command: str, cwd: Path, time_limit: float) -> _CmdOutcome:
    try:
        proc = await asyncio.create_subprocess_shell(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return _CmdOutcome(command, 127, b"", time_limit)
    try:
        async with asyncio.timeout(time_limit):
            stdout, _ = await proc.communicate()
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.communicate()
        return _CmdOutcome(command, None, b"", time_limit)
    except BaseException:
        _kill_group(proc.pid)
        await asyncio.shield(proc.wait())
        raise
    return _CmdOutcome(command, proc.returncode, stdout, time_limit)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_cmd_output(outcome: _CmdOutcome) -> str:
    name = command_name(outcome.command)
    if outcome.returncode is None:
        raise _Unresolvable(f"command {name} timed out after {outcome.timeout:g}s")
    if outcome.returncode != 0:
        raise _Unresolvable(f"command {exit_message(name, outcome.returncode)}")
    try:
        return outcome.stdout.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _Unresolvable(f"command {name}: its output is not UTF-8") from None


def credentials_from_output(text: str) -> tuple[str | None, str]:
    """``(username or None, password)`` from a credentials script's stdout, as NetApp Harvest reads it.

    A YAML mapping with a non-empty ``password`` gives that password and its ``username`` if any;
    anything else (plain text, YAML without a password) is the password as printed, stripped.
    Only scalar values are read, from the composed nodes: aliases are never expanded (composing
    builds no objects, so no YAML construct beyond a node per token can cost anything).
    """
    import yaml  # here, not at the top: only ``script:`` needs it (the secrets package stays small)

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        node = None
    fields: dict[str, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and isinstance(value_node, yaml.ScalarNode):
                fields[str(key_node.value)] = str(value_node.value)
    if fields.get("authToken") and not fields.get("password"):
        raise _Unresolvable(
            "the credentials script printed an authToken; fleet logs in with a user name and password"
        )
    if fields.get("password"):
        return fields.get("username") or None, fields["password"]
    return None, text.strip()
