"""What a cluster's certificate is verified against: the inventory's CA bundle, or the system's.

One function builds the context, for the run's connections (``HttpPool.ssl_for``) and for the check
before a run: a CA file that is missing, unreadable or holds no certificate is then bad input
(exit 2, naming the inventory and ``tls.ca_file``), not an internal error on every cluster.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def verifying_context(ca_file: Path | None) -> ssl.SSLContext:
    """A context that verifies the server against ``ca_file`` (the system's CAs when None)."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)


def ca_file_problem(ca_file: Path) -> str | None:
    """Why ``ca_file`` cannot be used to verify a cluster, or None."""
    try:
        verifying_context(ca_file)
    except FileNotFoundError:
        return "does not exist"
    except ssl.SSLError:  # an OSError too: first
        return "holds no PEM certificate"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None
