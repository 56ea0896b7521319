"""Native iperf3 control-protocol client (docs/methods.md §12.6): codec, streams, client."""
