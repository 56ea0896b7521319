"""Shared facts of the integrity tests: what the reference services send and how findings look.

The reference services (:mod:`qos_agent.refserver.integrity`) and the integrity collectors
(``dns_integrity``, ``http_integrity``, ``port_reachability``, ``tls_integrity``) agree on
the content defined in :mod:`.known`; a collector fetches the reference's own description
of itself (:mod:`.manifest`) and records each difference it sees as a :class:`.findings.Finding`.
"""
