"""The /metrics endpoint: ``prometheus_client``'s threading WSGI server in
its own thread, serving a ``MapCollector`` (and the process's CPU and
memory) through ``exposition.make_app`` (map families written in bulk).

A scrape runs in the server's thread: map reads are bpf() system calls
made through ctypes, which let go of the GIL, and the decoding in Python
is shared with the event loop at the interpreter's switch interval (5 ms),
so the loop never waits long for a scrape (bench/export_bench.py measures
both). ``ExportingSession`` is the one-shot ``Session`` with the endpoint
up from the moment its maps are loaded until they close.
"""
from __future__ import annotations

import platform

from ...base.diagnostics import RuntimeFailure, UsageError
from ..session import Session
from .collector import ExportedScript, MapCollector
from .exposition import make_app
from .config import ExportConfig, check, parse_export  # noqa: F401 (callers' import)

def build_info(version: str) -> dict[str, str]:
    return {"version": version, "python": platform.python_version()}


#: seconds a thread holds the GIL before the interpreter offers it on
SWITCH_INTERVAL = 0.001


class MetricsServer:
    """A started endpoint; ``close`` stops serving and closes the port."""

    def __init__(self, collector: MapCollector, host: str, port: int):
        from prometheus_client import CollectorRegistry
        from prometheus_client.process_collector import ProcessCollector
        import sys
        # a scrape's Python work hands the GIL back to the event loop every
        # SWITCH_INTERVAL instead of the default 5 ms (bench/export_bench.py)
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        ProcessCollector(registry=self.registry)
        try:
            self.httpd, self.thread = serve(make_app(self.registry), host, port)
        except OSError as err:
            raise RuntimeFailure(f"--export: cannot listen on {host}:{port}: {err.strerror}",
                                 "choose another port with --export prometheus=HOST:PORT")
        self.host, self.port = host, self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(2)


def serve(app, host: str, port: int):
    """``app`` served from a daemon thread as prometheus_client's
    ``start_http_server`` serves its own (a thread per request, no
    request log, IPv6 when ``host`` is an IPv6 address)."""
    import socket
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server
    from prometheus_client.exposition import ThreadingWSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format, *args):
            pass

    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                   flags=socket.AI_PASSIVE)[0]
    server = type("Server", (ThreadingWSGIServer,), {"address_family": family})
    httpd = make_server(sockaddr[0], port, app, server, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


def require_client() -> None:
    """A usage error (not a traceback) when the optional extra is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise UsageError("--export needs the prometheus_client library: "
                         "pip install 'pytrace[export]' (or apt-get install "
                         "python3-prometheus-client)") from None


def arities(script) -> dict[str, int]:
    """User map name -> number of keys (0: scalar), as the exporter labels them."""
    from ...lang.types import Tuple
    out = {}
    for spec in script.user_maps:
        key = getattr(spec, "key", None)
        out[spec.name] = 0 if key is None else len(key.elems) if isinstance(key, Tuple) else 1
    return out


class ExportingSession(Session):
    """A ``Session`` whose maps are served on /metrics while it runs."""

    def __init__(self, options, printer, config: ExportConfig, address: tuple[str, int],
                 dump_out=None, log=None, version: str = "unknown"):
        super().__init__(options, printer, dump_out)
        self.export_config = config
        self.address = address
        self.server: MetricsServer | None = None
        self.log = log
        self.version = version

    def load(self) -> None:
        check(self.export_config, arities(self.script))
        super().load()
        if self.options.dry_run:
            return
        exported = ExportedScript(self.options.name, self.export_config, self.loader,
                                  self.events, lambda: len(self.attachments.live))
        self.server = MetricsServer(MapCollector([exported], build_info(self.version)), *self.address)
        self.stack.callback(self.server.close)
        if self.log is not None:
            self.log("info", "serving", f"http://{_url_host(self.server.host)}:"
                     f"{self.server.port}/metrics")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
