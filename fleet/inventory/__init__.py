"""Inventories: load and validate them, apply defaults and groups, select clusters with ``--limit``."""

from fleet.inventory.ansible import load_ansible_yaml
from fleet.inventory.cleartext import check_cleartext, warn_cleartext
from fleet.inventory.harvest import load_harvest
from fleet.inventory.loader import load_any, load_inventory
from fleet.inventory.model import Cluster, Inventory, TlsSettings
from fleet.inventory.select import parse_limit

__all__ = [
    "Cluster",
    "Inventory",
    "TlsSettings",
    "check_cleartext",
    "load_ansible_yaml",
    "load_any",
    "load_harvest",
    "load_inventory",
    "parse_limit",
    "warn_cleartext",
]
