"""The nDirector: the controller that keeps many NVEs configured, transactionally.

- :mod:`~nvo3_netconf.director.client`: :class:`DeviceClient`, one NVE's NETCONF session.
- :mod:`~nvo3_netconf.director.inventory`: :class:`Inventory`, the SQLite store of NVEs.
- :mod:`~nvo3_netconf.director.transaction`: :class:`NetworkTransaction`, all-or-nothing
  configuration of a set of NVEs, with a per-NVE :class:`Result` each.

The ``ndirector`` CLI (:mod:`nvo3_netconf.cli.director`) is a thin layer over these.
"""
