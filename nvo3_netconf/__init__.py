"""nvo3-netconf: NETCONF/YANG management and control plane for NVO3 overlays."""

__version__ = "0.1.0"
