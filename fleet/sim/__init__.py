"""The ONTAP REST simulator: state, ONTAP's rules and effects, the aiohttp app, fleet generation, serving."""

from fleet.sim.app import build_app
from fleet.sim.generate import generate_fleet, make_cluster
from fleet.sim.server import SimServer
from fleet.sim.state import Cluster, Fleet, SimSettings

__all__ = ["Cluster", "Fleet", "SimServer", "SimSettings", "build_app", "generate_fleet", "make_cluster"]
