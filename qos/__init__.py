"""qos: the shared core of qos-toolkit (standard library only).

Records (:mod:`qos.records`), units (:mod:`qos.units`), metric definitions
(:mod:`qos.metrics`), configuration (:mod:`qos.config`), threshold-profile model and the
embedded SQLite store (:mod:`qos.store`).  Both apps, the agent (``qos_agent``) and the
analysis side (``qos_analysis``), build on it; it imports neither.
"""

__version__ = "0.1.0"
