"""Panels of many agents: the agents metadata table, the synthetic panel and the regulator's
comparison views (share of panellists by speed band, 80/80, peak-hour loss, latency) with
named significance tests."""
