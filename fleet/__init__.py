"""fleet: ONTAP key-manager operations across a whole estate of clusters."""

__version__ = "0.1.0"

__all__ = ["__version__"]
