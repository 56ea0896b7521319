"""qos_agent: the light measurement probe (collectors, scheduler, daemon, ``qos-agent`` CLI).

Runtime imports are the standard library, :mod:`qos` and icmplib; speedtest-cli and
dnspython are imported lazily by the collectors that need them.  pandas, numpy, scipy and
matplotlib are never imported here (a test checks it).
"""

__version__ = "0.1.0"
