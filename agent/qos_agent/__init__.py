"""qos_agent: the light measurement probe (collectors, scheduler, daemon, ``qos-agent`` CLI).

Runtime imports are the standard library and :mod:`qos`; speedtest-cli, dnspython,
pyarrow and prometheus-client are imported lazily by the collectors and exporters that
need them.  pandas, numpy, scipy and
matplotlib are never imported here (a test checks it).
"""

__version__ = "0.1.0"
