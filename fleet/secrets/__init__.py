"""Secrets: the ``Secret`` type, secret references, value-based scrubbing and passphrase rules."""

from fleet.secrets.refs import SecretRequest, SecretResolver, expand, is_reference, resolve_ref
from fleet.secrets.rules import check_passphrase, check_rotation_pair
from fleet.secrets.scrub import SCRUBBER, Scrubber
from fleet.secrets.secret import Secret

__all__ = [
    "SCRUBBER",
    "Scrubber",
    "Secret",
    "SecretRequest",
    "SecretResolver",
    "check_passphrase",
    "check_rotation_pair",
    "expand",
    "is_reference",
    "resolve_ref",
]
