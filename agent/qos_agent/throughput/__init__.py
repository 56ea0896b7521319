"""Parallel-stream HTTP throughput engine used by the ``http_throughput`` collector.

One job per module (docs/methods.md §8.1, BEREC BoR (17) 178):

* :mod:`~qos_agent.throughput.transfer`: per-stream workers moving bytes over HTTP/1.1
  (download/upload requests, reconnects, failures, shutdown at the deadline);
* :mod:`~qos_agent.throughput.sampler`: per-stream transport-payload counters sampled
  every interval, warm-up samples flagged;
* :mod:`~qos_agent.throughput.result`: samples and TCP counters → goodput, status and the
  :class:`~qos.records.ThroughputResult`.

The HTTP framing is :mod:`qos_agent.net.http_wire`, shared with the reference server;
the ``TCP_INFO`` counters come from :mod:`qos_agent.net.tcpinfo`.
"""
