"""Scripts' maps served to Prometheus (``pytrace --export prometheus``).

config     ``// export:`` settings in the script (labels, prefix, caps); pure
counters   pytrace's own counters of a loaded script (no prometheus_client)
collector  the custom collector: maps -> metric families at scrape time
server     the /metrics endpoint and the one-script ``ExportingSession``
agent      several scripts in one process, SIGHUP reloads, SIGTERM exits

Only config and counters load without the optional ``prometheus_client``.
"""
