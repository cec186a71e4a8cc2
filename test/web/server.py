#!/usr/bin/python3
"""server.py: the new-user page of recgan's demo, served from SQL.

    python3 test/web/server.py --db recgan_demo [--user recgan_web] [--port 8765]

A new user searches films by title, likes a handful, and sees the top-k of
recgan_recommend_items with titles and scores, "because you liked ..." lists
from recgan_similar_items, a switch between the served models, and each
model's offline metrics from recgan_evaluate on the demo's test split.

One page, all its state in the query string:

    /?q=star+wars&liked=50,172,181&model=ease&k=10

Every number on the page is a value returned by a SQL call; the server checks
the parameters, passes them to psycopg2 as bound parameters (never pasted into
SQL text), and renders HTML (no JavaScript).  It connects through libpq's
environment (PGHOST, PGPORT) as the read-only role made by test/web/setup.sql,
which may only read the items table and execute the functions of schema web,
and listens on 127.0.0.1 only.  A bad request (unknown parameter or id,
malformed list, k out of range, unknown model) gets HTTP 400 and one line of
text; an unexpected error gets HTTP 500 and one line, the traceback goes to
this process's stderr only.  Stack: Python 3's standard library and
python3-psycopg2, both Debian packages, no build step.
"""

import argparse
import html
import re
import signal
import sys
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg2
import psycopg2.errorcodes

MAX_K = 100             # web.check_request enforces the same bounds
MAX_LIKED = 50
MAX_QUERY = 100
SEARCH_LIMIT = 20
SIMILAR_K = 5
METRIC_K = 10
PARAMS = ("q", "liked", "model", "k")
ID_RE = re.compile(r"-?[0-9]{1,19}")
INT8_MIN, INT8_MAX = -2**63, 2**63 - 1
# SQLSTATEs that mean the request was wrong, not the server: data exceptions
# (class 22, e.g. invalid_parameter_value), undefined_object (no such model),
# feature_not_supported (e.g. no fold-in for that algorithm).
CLIENT_SQLSTATES = ("42704", "0A000")


class BadRequest(Exception):
    """A request the page refuses: HTTP 400 with the message as text."""


def parse_request(query):
    """Return (q, liked, model, k) from a query string, or raise BadRequest."""
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True,
                                       strict_parsing=False, max_num_fields=len(PARAMS))
    except ValueError:
        raise BadRequest("too many parameters (expected %s)" % ", ".join(PARAMS))
    seen = {}
    for name, value in pairs:
        if name not in PARAMS:
            raise BadRequest("unknown parameter %r (expected %s)" % (name, ", ".join(PARAMS)))
        if name in seen:
            raise BadRequest("parameter %r given twice" % name)
        seen[name] = value
    q = seen.get("q", "").strip()
    if len(q) > MAX_QUERY:
        raise BadRequest("q: at most %d characters" % MAX_QUERY)
    if any(ord(c) < 32 for c in q):
        raise BadRequest("q: control characters are not allowed")
    liked = []
    for part in filter(None, seen.get("liked", "").split(",")):
        if not ID_RE.fullmatch(part) or not INT8_MIN <= int(part) <= INT8_MAX:
            raise BadRequest("liked: %r is not an item id (expected ids separated by commas)" % part[:40])
        if int(part) not in liked:
            liked.append(int(part))
    if len(liked) > MAX_LIKED:
        raise BadRequest("liked: at most %d items" % MAX_LIKED)
    k_text = seen.get("k", "10")
    if not re.fullmatch(r"[0-9]{1,9}", k_text) or not 1 <= int(k_text) <= MAX_K:
        raise BadRequest("k: %r is not a whole number between 1 and %d" % (k_text[:40], MAX_K))
    return q, liked, seen.get("model"), int(k_text)


class Page:
    """The SQL of one page view: every statement runs through run()."""

    def __init__(self, conn):
        self.conn = conn
        self.statements = []

    def run(self, sql, params=()):
        """Execute sql with bound params and return all rows."""
        self.statements.append((sql, params))
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def models(self):
        """The served models, in the page's order."""
        return self.run("SELECT name, algorithm, n_users, n_items, trained_at FROM web.models()")

    def titles(self, ids):
        """Map the ids that exist in items to their titles."""
        rows = self.run("SELECT item_id, title FROM items WHERE item_id = ANY(%s::bigint[])", (ids,))
        return dict(rows)

    def search(self, q):
        """Titles containing q, case-insensitively (not a LIKE pattern)."""
        return self.run("SELECT item_id, title FROM items"
                        " WHERE strpos(lower(title), lower(%s)) > 0"
                        " ORDER BY title, item_id LIMIT %s", (q, SEARCH_LIMIT))

    def recommend(self, liked, k, model):
        """Top-k for a new user who liked these ids, with titles."""
        return self.run("SELECT r.rank, r.item_id, i.title, r.score"
                        " FROM web.recgan_recommend_items(%s::bigint[], %s, %s) r"
                        " LEFT JOIN items i USING (item_id) ORDER BY r.rank",
                        (liked, k, model))

    def similar(self, item, model):
        """The items most similar to one, with titles."""
        return self.run("SELECT r.rank, r.item_id, i.title, r.score"
                        " FROM web.recgan_similar_items(%s, %s, %s) r"
                        " LEFT JOIN items i USING (item_id) ORDER BY r.rank",
                        (item, SIMILAR_K, model))

    def evaluate(self, model):
        """The model's metrics at METRIC_K on its test split."""
        return self.run("SELECT metric, k, value, users FROM web.recgan_evaluate(%s, %s::int[])",
                        (model, [METRIC_K]))


def client_error(err):
    """True if a database error was caused by the request."""
    code = err.pgcode or ""
    return code.startswith("22") or code in CLIENT_SQLSTATES


def error_text(err):
    """The primary message of a database error, one line."""
    return (err.diag.message_primary or str(err)).splitlines()[0]


class Server(HTTPServer):
    """One database connection, reopened when lost; requests one at a time."""

    def __init__(self, port, dsn):
        super().__init__(("127.0.0.1", port), Handler)
        self.dsn = dsn
        self.conn = None
        self.metrics_cache = {}     # (model, trained_at) -> rows of recgan_evaluate

    def connection(self):
        """Return the open connection, reconnecting after a loss."""
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.dsn, application_name="recgan_web")
            self.conn.set_session(readonly=True, autocommit=True)
        return self.conn


def esc(value):
    """Escape a value for HTML text and attributes."""
    return html.escape(str(value), quote=True)


def href(q, liked, model, k):
    """The page's URL for this state."""
    params = {}
    if q:
        params["q"] = q
    if liked:
        params["liked"] = ",".join(str(i) for i in liked)
    params["model"] = model
    if k != 10:
        params["k"] = str(k)
    return "/?" + urllib.parse.urlencode(params)


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 20px 40px; color: #222; }
header { border-bottom: 2px solid #444; margin-bottom: 12px; }
h1 { font-size: 22px; margin: 14px 0 4px; } h2 { font-size: 17px; margin: 18px 0 6px; }
.sub { color: #666; margin: 0 0 8px; }
nav a { display: inline-block; padding: 4px 10px; margin: 0 6px 6px 0; border: 1px solid #888; border-radius: 4px; text-decoration: none; color: #224; }
nav a.current { background: #335; color: #fff; border-color: #335; }
.cols { display: flex; gap: 28px; } .cols > * { flex: 1; min-width: 0; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.plain { list-style: none; padding: 0; margin: 0; } ul.plain li { padding: 2px 0; }
a.like, a.remove { font-size: 13px; margin-left: 6px; }
.because { margin-bottom: 10px; } .because ol { margin: 2px 0; padding-left: 22px; }
.note { color: #955; } .muted { color: #777; font-size: 13px; }
th.current, td.current { background: #eef; }
input[type=search] { width: 60%; padding: 4px; font-size: 15px; }
pre { white-space: pre-wrap; font-size: 12px; background: #f6f6f6; padding: 6px; }
"""


class Handler(BaseHTTPRequestHandler):
    server_version = "recgan-web"
    timeout = 30                # one request at a time: a silent client must not hold the server
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    def log_message(self, fmt, *args):
        """One line per request on stderr."""
        sys.stderr.write("web: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body, ctype="text/plain; charset=utf-8"):
        """Send a complete response."""
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        """Serve /, or a one-line text error."""
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/":
            self.reply(404, "not found: this server has one page, /\n")
            return
        try:
            body = self.render(*parse_request(url.query))
            self.reply(200, body, "text/html; charset=utf-8")
        except BadRequest as err:
            self.reply(400, "bad request: %s\n" % err)
        except psycopg2.Error as err:
            if isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)) and not err.pgcode:
                traceback.print_exc()
                self.server.conn = None
                self.reply(503, "the database is unavailable; try again\n")
            elif client_error(err):
                self.reply(400, "bad request: %s\n" % error_text(err))
            else:
                traceback.print_exc()
                self.reply(500, "internal error (the server's log has the details)\n")
        except Exception:       # never show a traceback to the client
            traceback.print_exc()
            self.reply(500, "internal error (the server's log has the details)\n")

    def render(self, q, liked, model, k):
        """Run the page's SQL and return its HTML."""
        conn = self.server.connection()
        del conn.notices[:]
        page = Page(conn)
        models = page.models()
        names = [m[0] for m in models]
        if not names:
            raise BadRequest("no model is served (web.served_models is empty)")
        if model is None:
            model = names[0]
        if model not in names:
            raise BadRequest("unknown model %r (served: %s)" % (model[:40], ", ".join(names)))
        titles = page.titles(liked) if liked else {}
        for item in liked:
            if item not in titles:
                raise BadRequest("unknown item id %d" % item)
        results = page.search(q) if q else []
        recs = page.recommend(liked, k, model) if liked else []
        because = []
        for item in liked:
            try:
                because.append((item, page.similar(item, model), None))
            except psycopg2.Error as err:
                if err.pgcode != psycopg2.errorcodes.FEATURE_NOT_SUPPORTED:
                    raise
                because.append((item, [], error_text(err)))
        metrics = {}
        for name, _alg, _u, _i, trained_at in models:
            key = (name, trained_at)
            if key not in self.server.metrics_cache:
                try:
                    self.server.metrics_cache[key] = page.evaluate(name)
                except psycopg2.Error as err:
                    if not client_error(err):
                        raise
                    self.server.metrics_cache[key] = error_text(err)
            metrics[name] = self.server.metrics_cache[key]
        notices = [n.strip() for n in conn.notices]
        return self.html(q, liked, model, k, models, titles, results, recs, because,
                         metrics, notices, page.statements)

    def html(self, q, liked, model, k, models, titles, results, recs, because,
             metrics, notices, statements):
        """Render the page; numbers are formatted, never computed."""
        out = []
        w = out.append
        w("<!doctype html><html lang=en><head><meta charset=utf-8>")
        w("<title>recgan: recommendations for a new user</title><style>%s</style></head><body>" % STYLE)
        w("<header><h1>recgan: recommendations for a new user</h1>")
        w("<p class=sub>Like a few titles; recgan scores the whole catalogue for you inside "
          "PostgreSQL, without retraining (<code>recgan_recommend_items</code>).</p></header>")

        w("<nav id=models>Model: ")
        for name, alg, n_users, n_items, _t in models:
            cls = "model current" if name == model else "model"
            label = esc(name) if alg == name else "%s <span class=muted>(%s)</span>" % (esc(name), esc(alg))
            w('<a class="%s" data-model="%s" href="%s" title="%s users, %s items">%s</a>'
              % (cls, esc(name), esc(href(q, liked, name, k)), esc(n_users), esc(n_items), label))
        w("</nav>")

        w("<div class=cols><section id=find><h2>Find titles</h2>")
        w('<form id=search method=get action="/"><input type=search name=q value="%s" '
          'placeholder="a title, e.g. Star Wars" autofocus> ' % esc(q))
        if liked:
            w('<input type=hidden name=liked value="%s">' % esc(",".join(map(str, liked))))
        w('<input type=hidden name=model value="%s">' % esc(model))
        if k != 10:
            w('<input type=hidden name=k value="%s">' % esc(k))
        w("<button type=submit>Search</button></form>")
        if q:
            w("<ul id=results class=plain>")
            for item, title in results:
                if item in liked:
                    w('<li data-item-id="%s">%s <span class=muted>liked</span></li>' % (esc(item), esc(title)))
                else:
                    w('<li data-item-id="%s">%s <a class=like data-item-id="%s" href="%s">like</a></li>'
                      % (esc(item), esc(title), esc(item), esc(href(q, liked + [item], model, k))))
            if not results:
                w('<li class=muted>no title contains "%s"</li>' % esc(q))
            w("</ul>")

        w("<h2>You like</h2><ul id=liked class=plain>")
        for item in liked:
            rest = [i for i in liked if i != item]
            w('<li data-item-id="%s">%s <a class=remove href="%s">remove</a></li>'
              % (esc(item), esc(titles[item]), esc(href(q, rest, model, k))))
        if not liked:
            w("<li class=muted>nothing yet: search and like a few titles</li>")
        w("</ul>")
        if liked:
            w('<p><a id=clear href="%s">start over</a></p>' % esc(href("", [], model, k)))
        w("</section>")

        w("<section id=top><h2>Top %d for you <span class=muted>model %s</span></h2>" % (k, esc(model)))
        if liked:
            w("<table id=recs><thead><tr><th class=num>#</th><th>title</th><th class=num>score</th></tr></thead><tbody>")
            for rank, item, title, score in recs:
                w('<tr data-item-id="%s"><td class="rank num">%s</td><td class=title>%s</td>'
                  '<td class="score num">%.4f</td></tr>'
                  % (esc(item), esc(rank), esc(title if title is not None else "item %d" % item), score))
            w("</tbody></table>")
        else:
            w("<p class=muted>Like a title to see recommendations.</p>")
        for note in notices:
            w('<p class="note recgan-notice">%s</p>' % esc(note))
        w("</section></div>")

        if liked:
            w("<section id=because><h2>Because you liked ...</h2><div class=cols>")
            for item, rows, note in because:
                w('<div class=because data-item-id="%s"><b>%s</b>' % (esc(item), esc(titles[item])))
                if note:
                    w("<p class=note>%s</p>" % esc(note))
                elif not rows:
                    w("<p class=muted>this model does not know the title</p>")
                else:
                    w("<ol>")
                    for rank, other, title, score in rows:
                        w('<li data-item-id="%s">%s <span class="score muted">%.4f</span></li>'
                          % (esc(other), esc(title if title is not None else "item %d" % other), score))
                    w("</ol>")
                w("</div>")
            w("</div></section>")

        w("<section id=offline><h2>Offline metrics @%d on the demo's test split "
          "<span class=muted>recgan_evaluate, full ranking</span></h2>" % METRIC_K)
        w("<table id=metrics><thead><tr><th>metric</th>")
        for name, *_ in models:
            w('<th class="num%s" data-model="%s">%s</th>' % (" current" if name == model else "", esc(name), esc(name)))
        w("</tr></thead><tbody>")
        metric_names = []
        for rows in metrics.values():
            if not isinstance(rows, str):
                metric_names += [r[0] for r in rows if r[0] not in metric_names]
        for metric in metric_names:
            w('<tr data-metric="%s"><td>%s@%d</td>' % (esc(metric), esc(metric), METRIC_K))
            for name, *_ in models:
                rows = metrics[name]
                value = next((r[2] for r in rows if r[0] == metric), None) if not isinstance(rows, str) else None
                w('<td class="num%s" data-model="%s">%s</td>'
                  % (" current" if name == model else "", esc(name), "" if value is None else "%.4f" % value))
            w("</tr>")
        users = next((r[3] for rows in metrics.values() if not isinstance(rows, str) for r in rows), None)
        w("</tbody></table>")
        if users is not None:
            w("<p class=muted>averaged over %s test users</p>" % esc(users))
        for name, rows in metrics.items():
            if isinstance(rows, str):
                w('<p class=note>%s: %s</p>' % (esc(name), esc(rows)))
        w("</section>")

        w("<details id=sql><summary class=muted>the SQL behind this page (%d statements, "
          "run as a read-only role)</summary><pre>" % len(statements))
        for sql, params in statements:
            w("%s\n    -- parameters: %s\n" % (esc(sql), esc(repr(tuple(params)))))
        w("</pre></details></body></html>")
        return "".join(out)


def main():
    """Parse the options, connect, serve until SIGINT or SIGTERM."""
    ap = argparse.ArgumentParser(description="recgan's new-user page (127.0.0.1 only)")
    ap.add_argument("--db", required=True, help="database (PGHOST, PGPORT from the environment)")
    ap.add_argument("--user", default="recgan_web", help="database role (default: recgan_web)")
    ap.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1; 0 picks a free one")
    args = ap.parse_args()
    dsn = psycopg2.extensions.make_dsn(dbname=args.db, user=args.user)
    try:
        server = Server(args.port, dsn)
    except OSError as err:
        sys.exit("server.py: cannot listen on 127.0.0.1:%d: %s" % (args.port, err.strerror))
    try:
        server.connection()      # fail now, not at the first request, if the role cannot connect
    except psycopg2.Error as err:
        sys.exit("server.py: cannot connect to %s as %s: %s" % (args.db, args.user, str(err).strip()))
    signal.signal(signal.SIGTERM, signal.default_int_handler)     # stop as on Ctrl-C
    print("recgan web page: http://127.0.0.1:%d/" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if server.conn is not None:
            server.conn.close()
    print("recgan web page stopped", flush=True)


if __name__ == "__main__":
    main()
