"""RunSpec: the one typed record of a run's options; the CLI builds it, the journal keeps it.

``fleet resume`` reloads it whole. Every option of every run command lives here once, with its
default. Paths are made absolute when the spec is made (``RunSpec.create``), against the directory
the run was started in (``workdir``), so ``fleet resume`` from another directory, another day,
uses the run's own inventory, store, backup folder and ``file:`` references. Secrets appear only
as *references* (``env:``, ``file:``, ``cmd:``); a ``cmd:`` reference given on the command line
runs in ``workdir``, as it did first.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleet.engine.audit import check_change_id
from fleet.engine.rollout.budgets import parse_threshold
from fleet.engine.rollout.settings import ConfirmWave, Rollout, parse_rollout
from fleet.engine.rollout.window import DEFAULT_FLOOR_SECONDS, Clock, utc_now, window_end_ahead
from fleet.errors import InputError
from fleet.ontap import HttpSettings
from fleet.ontap.limits import DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES, parse_size
from fleet.outcomes import RunKind
from fleet.secrets.refs import is_reference

GENERATE = "generate"
#: Options that belong to a night, not to the change: ``fleet resume`` may give them again.
NIGHT_OPTIONS = (
    "concurrency",
    "max_failures",
    "max_wave_failures",
    "max_consecutive_failures",
    "max_wrong_passphrase",
    "window_floor",
    "pause_between_waves",
)
DEFAULT_CONCURRENCY = 64
DEFAULT_PER_CLUSTER = 2
DEFAULT_TIMEOUT = 30.0


class RunSpec(BaseModel):
    """What a run was asked to do. Frozen: a resumed run gets a copy with ``resumed_from`` set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RunKind
    workdir: Path = Field(description="Where the run was started; relative command-line paths meant this.")
    inventory: Path
    overlay: Path | None = None  # merged on top of the inventory (fleet.inventory.overlay)
    import_password: str | None = None  # reference for imported clusters without a usable one
    limit: str | None = None
    concurrency: int = Field(DEFAULT_CONCURRENCY, ge=1, le=4096)
    per_cluster: int = Field(DEFAULT_PER_CLUSTER, ge=1, le=16)
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0)
    cluster_deadline: float | None = Field(None, gt=0)
    insecure: bool = False
    allow_http: bool = False  # plain http:// addresses without tls.verify: false in the inventory (loud)
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=MIN_RESPONSE_BYTES, le=1 << 30)
    # rotate
    current: str | None = None
    new: str | None = None
    store: str | None = None
    charset: Literal["console", "alnum", "ascii"] = "console"  # generated passphrases (--new generate)
    backup_dir: Path | None = None
    remediate: bool = True
    first_site: str | None = None
    max_wrong_passphrase: int = Field(3, ge=1)  # clusters refusing a passphrase before the run stops
    allow_attempt: bool = False  # lift the one-wrong-attempt-per-cluster-per-24-h rule (loud)
    # sync, apply, plan --probe
    passphrase: str | None = None
    # plan, apply, sweep
    policy: Path | None = None
    policy_digest: str | None = None  # ``Policy.digest`` of what the run was started with (apply resume)
    probe: bool = False
    # rollout: kept as typed (waves, budgets) or resolved (window_end) so a resume rebuilds the same
    waves: str | None = None
    max_failures: str | None = None
    max_wave_failures: str | None = None
    max_consecutive_failures: int | None = Field(None, ge=1)
    window_end: datetime | None = None
    window_floor: float = Field(DEFAULT_FLOOR_SECONDS, ge=0)
    limit_per: tuple[str, ...] = ()
    pause_between_waves: bool = False
    events: Path | None = None
    dry_run: bool = False  # read and decide, send no mutation (rotate, sync)
    # the audit record: the change ticket this run belongs to (kept by `fleet resume`)
    change_id: str | None = None
    # fleet resume
    resumed_from: str | None = None
    retry_failed: bool = False

    @field_validator("change_id")
    @classmethod
    def _printable_change_id(cls, value: str | None) -> str | None:
        return None if value is None else check_change_id(value)

    @classmethod
    def create(
        cls, *, kind: RunKind, workdir: Path | None = None, clock: Clock = utc_now, **given: Any
    ) -> RunSpec:
        """A spec from options as typed: paths made absolute, rollout options checked (``InputError``).

        ``max_consecutive_failures``, ``max_response_bytes`` (``8MiB``) and ``window_end`` may be
        given as text, as on the command line; a window end is read against ``clock`` (``HH:MM`` is
        its next occurrence) and must be ahead.
        """
        base = (workdir or Path.cwd()).absolute()
        values: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
        for key in ("inventory", "overlay", "backup_dir", "policy", "events"):
            if key in values:
                values[key] = absolute(Path(values[key]), base)
        if "import_password" in values:
            if not is_reference(values["import_password"]):
                raise InputError(
                    "takes a secret reference (env:NAME, file:PATH, cmd:COMMAND), not a password",
                    field="--import-password",
                )
            values["import_password"] = absolute_command(
                absolute_reference(values["import_password"], base), base
            )
        for key in ("current", "new", "passphrase"):
            if key in values:
                values[key] = absolute_reference(values[key], base)
        if "store" in values:
            values["store"] = absolute_store(values["store"], base)
        consecutive = values.get("max_consecutive_failures")
        if isinstance(consecutive, str):
            threshold = parse_threshold(
                consecutive, field="--max-consecutive-failures", percent_allowed=False
            )
            values["max_consecutive_failures"] = threshold.count
        max_bytes = values.get("max_response_bytes")
        if isinstance(max_bytes, str):
            try:
                values["max_response_bytes"] = parse_size(max_bytes)
            except ValueError as exc:
                raise InputError(str(exc), field="--max-response-bytes") from None
        window_end = values.get("window_end")
        if isinstance(window_end, str):
            values["window_end"] = window_end_ahead(window_end, now=clock())
        if "limit_per" in values:
            values["limit_per"] = tuple(values["limit_per"])
        try:
            spec = cls(kind=kind, workdir=base, **values)
        except ValidationError as exc:
            raise input_error(exc) from None
        spec.rollout()  # every rollout option parses, or the InputError names it
        return spec

    @classmethod
    def from_journal(cls, kind: str, options: Mapping[str, Any]) -> RunSpec:
        """The spec a run recorded. Runs recorded before RunSpec kept loose options: read what they had."""
        values = dict(options)
        if "workdir" not in values:  # recorded before RunSpec: relative paths meant the cwd of that day
            known = set(cls.model_fields)
            values = {key: value for key, value in values.items() if key in known and value is not None}
            values.setdefault("workdir", str(Path.cwd()))
        try:
            return cls.model_validate({**values, "kind": kind})
        except ValidationError as exc:
            raise InputError(f"the journal's record of this run is unreadable: {input_error(exc)}") from None

    def tonight(self, night: Mapping[str, Any]) -> RunSpec:
        """This spec with tonight's ``NIGHT_OPTIONS`` (None: keep the recorded one), checked as at
        the start (``InputError``); the change itself (inventory, secrets, waves) stays as recorded."""
        given = {key: value for key, value in night.items() if value is not None}
        unknown = sorted(set(given) - set(NIGHT_OPTIONS))
        if unknown:
            raise ValueError(f"not options of a night: {unknown}")
        if not given:
            return self
        values = self.model_dump(exclude={"kind", "workdir"})
        values.update(given)
        return RunSpec.create(kind=self.kind, workdir=self.workdir, **values)

    def options(self) -> dict[str, Any]:
        """JSON-ready: the journal's ``runs.options`` and the report's ``run.options``."""
        return self.model_dump(mode="json")

    @property
    def generated(self) -> bool:
        """``--new generate``: pending/current/previous live in the secret store."""
        return self.new == GENERATE

    def rollout(self, *, confirm_next_wave: ConfirmWave | None = None, clock: Clock = utc_now) -> Rollout:
        """Waves, budgets, window, label limits and events, parsed (a bad one is an ``InputError``)."""
        return parse_rollout(
            waves=self.waves,
            max_failures=self.max_failures,
            max_wave_failures=self.max_wave_failures,
            max_consecutive_failures=(
                str(self.max_consecutive_failures) if self.max_consecutive_failures else None
            ),
            window_end=self.window_end.isoformat() if self.window_end else None,
            window_floor=self.window_floor,
            limit_per=self.limit_per,
            pause_between_waves=self.pause_between_waves,
            events=self.events,
            confirm_next_wave=confirm_next_wave,
            clock=clock,
        )

    def http(self) -> HttpSettings:
        """Connection caps follow unit concurrency: every unit in flight may hold its per-cluster cap."""
        return HttpSettings(
            concurrency=max(self.concurrency, 8) * self.per_cluster,
            per_cluster=self.per_cluster,
            request_timeout=self.timeout,
            cluster_deadline=self.cluster_deadline,
            insecure=self.insecure,
            max_response_bytes=self.max_response_bytes,
        )


def absolute(path: Path, base: Path) -> Path:
    """``path`` against ``base`` (``~`` expanded); not resolved, so a symlinked folder keeps its name."""
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def absolute_reference(ref: str, base: Path) -> str:
    """A ``file:`` reference made absolute; ``env:``, ``cmd:`` and ``generate`` unchanged."""
    scheme, sep, rest = ref.partition(":")
    if sep and scheme == "file" and rest.strip():
        return f"file:{absolute(Path(rest), base)}"
    return ref


def absolute_command(ref: str, base: Path) -> str:
    """A ``cmd:``/``script:`` reference whose program is a relative path (``cmd:./get-pass``) made
    absolute: the inventory's references run in the inventory's folder, this one meant ``base``."""
    scheme, sep, command = ref.partition(":")
    if not sep or scheme not in ("cmd", "script"):
        return ref
    try:
        argv = shlex.split(command)
    except ValueError:
        return ref  # resolving it names the mistake
    if argv and "/" in argv[0] and not Path(argv[0]).expanduser().is_absolute():
        argv[0] = str(base / argv[0])
        return f"{scheme}:" + shlex.join(argv)
    return ref


def absolute_store(spec: str, base: Path) -> str:
    """``--store DIR|file:DIR|cmd:PROGRAM ARGS`` with the folder, or a relative program, made absolute."""
    if spec.startswith("cmd:"):
        argv = shlex.split(spec.removeprefix("cmd:"))
        if argv and "/" in argv[0] and not Path(argv[0]).is_absolute():
            argv[0] = str(base / argv[0])
        return "cmd:" + shlex.join(argv) if argv else spec
    directory = spec.removeprefix("file:")
    if not directory.strip():
        return spec  # open_store names the mistake
    return str(absolute(Path(directory), base))


def input_error(exc: ValidationError) -> InputError:
    """The first validation problem as an ``InputError`` naming the option (``--per-cluster``)."""
    first = exc.errors()[0]
    name = "--" + "-".join(str(part) for part in first["loc"]).replace("_", "-")
    return InputError(first["msg"].removeprefix("Value error, "), field=name)
