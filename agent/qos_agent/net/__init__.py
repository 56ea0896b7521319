"""The agent's low-level layer: time, sockets, wire formats and kernel TCP counters.

Nothing here imports a collector or the reference server; both build on it.

* :mod:`.clock`: the injectable :class:`~qos_agent.net.clock.Clock`;
* :mod:`.sockets`: address resolution and abortive (RST) close;
* :mod:`.targets`: ``HOST[:PORT]`` target strings;
* :mod:`.http_wire`: HTTP/1.1 framing of the reference protocol (client and server);
* :mod:`.iperf3_wire`: the iperf3 control-protocol codec;
* :mod:`.tcpinfo`: the one decoder of Linux ``TCP_INFO``.
"""
