"""STAMP (RFC 8762) with SSID (RFC 8972), TWAMP-Light compatible (RFC 5357 App. I).

* :mod:`~qos_agent.stamp.codec` — pure encode/decode of test packets and NTP timestamps;
* :mod:`~qos_agent.stamp.clock` — host clock state for the Error Estimate S bit;
* :mod:`~qos_agent.stamp.net` — UDP sockets with received TTL and kernel timestamps;
* :mod:`~qos_agent.stamp.reflector` — stateful Session-Reflector (pure handler + UDP server);
* :mod:`~qos_agent.stamp.sender` — Session-Sender engine (fixed-rate stream, reply matching);
* :mod:`~qos_agent.stamp.analysis` — two-way metrics from the replies (pure).
"""
