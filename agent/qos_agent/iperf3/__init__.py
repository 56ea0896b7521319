"""Native iperf3 control-protocol client (STANDARDS.md §12.6): codec, streams, client."""
