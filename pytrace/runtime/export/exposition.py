"""A scrape's text, written in bulk for the big map families.

prometheus_client renders one ``Sample`` at a time (a dict of labels per
sample, each label name validated and escaped, each value through
``floatToGoString``): about 9 µs a sample, most of a 10,000-series
scrape. A map's family is one metric name and one set of label names
over many rows, so here it is held as columns (``MapFamily``) and
written with one line template per sample name, made once by rendering
a single probe sample through the scrape's own prometheus_client encoder
(marker label values, value 0) and cutting it at the markers. The
format stays prometheus_client's: the template comes from it (name and
label-name escaping, label order, the OpenMetrics or text layout, the
``# HELP``/``# TYPE`` lines), only the per-row parts are done here,
the way it does them: label values escaped (``\\``, newline, ``"``)
only in a column that holds one of those, values as ``floatToGoString``
writes them (small integers directly, anything else through it).

Everything else in the registry (health metrics, ``process_*``) goes
through the encoder as it is, and a ``MapFamily`` still has its
``samples`` (built on demand the way a plain custom collector builds
them) for any other consumer, e.g. ``generate_latest`` itself, which is
how the tests check this module byte for byte.

``make_app`` is the /metrics WSGI app: prometheus_client's
``choose_encoder`` picks the format from the Accept header; requests the
bulk path does not cover (other methods, ``name[]`` filters) go to
prometheus_client's own app.
"""
from __future__ import annotations

import functools
import gzip
import itertools
import re
from urllib.parse import parse_qs

from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric, SummaryMetricFamily)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

#: below this an int's float is exact and Python writes it as digits + ".0"
#: (from 10**6 on floatToGoString switches positives to Go's exponent form)
_SMALL = 1_000_000
_EXACT = 2 ** 53
_MARK = re.compile("\x00([0-9]+)\x00")
_ZERO = " 0.0\n"                     # the probe sample's value, as the encoder writes it
#: gzip level for a compressed scrape: prometheus_client's default (9) takes
#: several times as long as 1 for a few per cent less text
GZIP_LEVEL = 1

#: the samples of each kind of family: (name suffix, has the le label)
SAMPLES = {"counter": (("_total", False),), "gauge": (("", False),),
           "summary": (("_count", False), ("_sum", False)),
           "histogram": (("_bucket", True), ("_count", False))}


def go_value(v) -> str:
    """``floatToGoString(v)``, without a float for small integers."""
    if type(v) is int and -_EXACT < v < _SMALL:
        return f"{v}.0"
    return floatToGoString(v)


def go_values(values: list) -> list[str]:
    if values and set(map(type, values)) == {int} and -_EXACT < min(values) and \
            max(values) < _SMALL:
        return list(map("%d.0".__mod__, values))
    return [f"{v}.0" if type(v) is int and -_EXACT < v < _SMALL else floatToGoString(v)
            for v in values]


#: rows formatted per C-level call, so one call holds the GIL well under 1 ms
CHUNK = 2048


def _lines(fmt: str, columns: list) -> str:
    """``fmt % row`` for every row of ``columns`` (equal-length lists)."""
    n = len(columns[0])
    return "".join(["".join(map(fmt.__mod__, zip(*[c[i:i + CHUNK] for c in columns])))
                    for i in range(0, n, CHUNK)])


def escape_column(column: list[str]) -> list[str]:
    """Label values as prometheus_client escapes them, touched only when
    some value in the column needs it."""
    joined = "".join(column)
    if "\\" not in joined and "\n" not in joined and '"' not in joined:
        return column
    return [v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"") for v in column]


class MapFamily(Metric):
    """One map's metric family as columns: ``columns`` holds one list of
    label values (str) per label name, ``values`` one entry per row: a
    number (counter, gauge), ``(count, sum)`` (summary) or the cumulative
    ``[(le, count), … ("+Inf", n)]`` (histogram, exported with ``_count``
    and no ``_sum``)."""

    def __init__(self, name: str, documentation: str, typ: str, labels, columns: list,
                 values: list):
        super().__init__(name, documentation, typ)
        self.labels = tuple(labels)
        self.columns = columns
        self.values = values
        self._samples = None                # built when asked

    @property
    def samples(self) -> list:
        if self._samples is None:
            self._samples = self._build_samples()
        return self._samples

    @samples.setter
    def samples(self, value) -> None:        # Metric.__init__ sets []
        self._samples = value

    def rows(self):
        """Each row's label values (a list) and value."""
        labels = zip(*self.columns) if self.columns else itertools.repeat(())
        return ((list(ls), v) for ls, v in zip(labels, self.values))

    def _build_samples(self) -> list:
        """The samples a custom collector adding row by row would have."""
        doc, labels = self.documentation, list(self.labels)
        if self.type == "counter":
            fam = CounterMetricFamily(self.name, doc, labels=labels)
            for ls, v in self.rows():
                fam.add_metric(ls, v)
        elif self.type == "gauge":
            fam = GaugeMetricFamily(self.name, doc, labels=labels)
            for ls, v in self.rows():
                fam.add_metric(ls, v)
        elif self.type == "summary":
            fam = SummaryMetricFamily(self.name, doc, labels=labels)
            for ls, (count, total) in self.rows():
                fam.add_metric(ls, count, total)
        else:
            fam = HistogramMetricFamily(self.name, doc, labels=labels)
            for ls, buckets in self.rows():
                fam.add_metric(ls, buckets, None)
                # _count (= the +Inf bucket) without a _sum, which a hist cannot know
                fam.samples.append(Sample(self.name + "_count", dict(zip(labels, ls)),
                                          buckets[-1][1]))
        return fam.samples

    # -- bulk rendering --------------------------------------------------------------
    def render(self, fn, keywords: tuple) -> str | None:
        """This family as ``functools.partial(fn, **keywords)`` writes it,
        or None where no template could be cut (the caller then uses the
        encoder)."""
        shape = templates(fn, keywords, self.name, self.documentation, self.type,
                          self.labels)
        if shape is None:
            return None
        header, lines = shape
        if not self.values:
            return header
        columns = [escape_column(c) for c in self.columns]
        if self.type in ("counter", "gauge"):
            (fmt, order), = lines
            return header + _lines(fmt, [columns[i] for i in order] + [go_values(self.values)])
        if self.type == "summary":
            (cfmt, corder), (sfmt, sorder) = lines
            counts = go_values([c for c, _ in self.values])
            sums = go_values([s for _, s in self.values])
            return header + _lines(cfmt + sfmt, [columns[i] for i in corder] + [counts] +
                                   [columns[i] for i in sorder] + [sums])
        (bfmt, border), (cfmt, corder) = lines
        le = len(self.labels)
        cut = border.index(le)
        pre_fmt, post_fmt = bfmt.split("\x00")
        before, after = border[:cut], border[cut + 1:]
        les: dict[str, str] = {}
        out = [header]
        for row, buckets in zip(self._label_rows(columns), self.values):
            pre = pre_fmt % tuple([row[i] for i in before])
            post = post_fmt % tuple([row[i] for i in after])
            for bound, n in buckets:
                b = les.get(bound)
                if b is None:
                    b = les[bound] = escape_column([bound])[0]
                out.append(f"{pre}{b}{post}{go_value(n)}\n")
            out.append(cfmt % (*[row[i] for i in corder], go_value(buckets[-1][1])))
        return "".join(out)

    def _label_rows(self, columns: list) -> list:
        return list(zip(*columns)) if columns else [()] * len(self.values)


class _Just:
    """A registry of the given metrics (what an encoder takes)."""

    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        return self.metrics


@functools.lru_cache(maxsize=512)
def templates(fn, keywords: tuple, name: str, doc: str, typ: str, labels: tuple):
    """(header text, [(%-format, label order) per sample name]) as
    ``fn(…, **keywords)`` writes a family of this shape, or None. A format
    takes the row's label values in ``order`` (indices into ``labels``;
    ``len(labels)`` is ``le``, where a histogram bucket's format is split
    by a NUL), then the value."""
    kw = dict(keywords)
    empty = fn(_Just([Metric(name, doc, typ)]), **kw).decode("utf-8")
    header = None
    lines = []
    for suffix, with_le in SAMPLES[typ]:
        names = labels + (("le",) if with_le else ())
        probe = Metric(name, doc, typ)
        probe.samples = [Sample(name + suffix, {k: f"\x00{i}\x00" for i, k in enumerate(names)}, 0)]
        text = fn(_Just([probe]), **kw).decode("utf-8")
        line, head = _cut(empty, text)
        if line is None or (header is not None and head != header):
            return None
        header = head
        parts = _MARK.split(line[:-len(_ZERO)] + " ")
        pieces, order = parts[0::2], [int(i) for i in parts[1::2]]
        if sorted(order) != list(range(len(names))) or "\x00" in "".join(pieces):
            return None
        pieces = [p.replace("%", "%%") for p in pieces]
        if with_le:
            at = order.index(len(labels))
            fmt = "%s".join(pieces[:at + 1]) + "\x00" + "%s".join(pieces[at + 1:])
        else:
            fmt = "%s".join(pieces) + "%s\n"
        lines.append((fmt, order))
    return header, lines


def _cut(empty: str, text: str) -> tuple[str | None, str]:
    """``text`` is ``empty`` with one sample line inserted after the
    header: (that line, the header), or (None, "") when it is not."""
    n = 0
    while n < len(empty) and n < len(text) and empty[n] == text[n]:
        n += 1
    n = empty.rfind("\n", 0, n) + 1            # the header ends with a whole line
    tail = empty[n:]
    if not text.endswith(tail) or len(text) - len(tail) <= n:
        return None, ""
    line = text[n:len(text) - len(tail)]
    if line.count("\n") != 1 or not line.endswith(_ZERO):
        return None, ""
    return line, empty[:n]


def render(registry, encoder) -> bytes:
    """``encoder(registry)`` (one of prometheus_client's, as
    ``choose_encoder`` returns it), map families written in bulk."""
    fn = getattr(encoder, "func", encoder)
    keywords = tuple(sorted((getattr(encoder, "keywords", None) or {}).items()))
    trailer = encoder(_Just([]))
    out: list[bytes] = []
    plain: list = []

    def flush():
        if plain:
            text = encoder(_Just(plain))
            out.append(text[:len(text) - len(trailer)] if trailer else text)
            plain.clear()

    for metric in registry.collect():
        text = metric.render(fn, keywords) if isinstance(metric, MapFamily) else None
        if text is None:
            plain.append(metric)
            continue
        flush()
        out.append(text.encode("utf-8"))
    flush()
    out.append(trailer)
    return b"".join(out)


def make_app(registry):
    """The /metrics WSGI app over ``registry``."""
    from prometheus_client.exposition import choose_encoder, gzip_accepted, make_wsgi_app
    fallback = make_wsgi_app(registry)

    def app(environ, start_response):
        if (environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") == "/favicon.ico"
                or "name[]" in parse_qs(environ.get("QUERY_STRING", ""))):
            return fallback(environ, start_response)
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT"))
        output = render(registry, encoder)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING")):
            output = gzip.compress(output, GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app
