#!/usr/bin/python3
"""webcheck.py: drive the demo page in headless Chromium and hold it to SQL.

    python3 test/web/webcheck.py --db recgan_webcheck --out test/web/out

Needs a database prepared as test/web/check.sh (or test/demo.sh --web) does:
items, the test split, the served models, test/web/setup.sql.  Connects
directly (libpq environment: PGHOST, PGPORT, PGUSER) to compute what the page
must show, and:
  1. starts test/web/server.py on a free port of 127.0.0.1 as recgan_web;
  2. sends bad requests: each gets 400 (404, 501) and one line of text;
  3. checks what the role recgan_web may not do (read models, ratings, splits;
     serve a model without the web functions; write);
  4. in headless Chromium: searches and likes three titles (MovieLens 100K:
     "Star Wars", then "Empire Strikes Back" and "Return of the Jedi"; the
     synthetic set: the first three titles of "group 1"), then, for every
     served model, checks that the rendered top-10 equals
     recgan_recommend_items for those ids, the "because you liked" lists equal
     recgan_similar_items and the metrics equal recgan_evaluate;
  5. writes a full-page screenshot to OUT/webcheck.png.
Prints "ok - ..." / "not ok - ..." per check and "webcheck: N passed, M
failed"; exits 1 if any check failed.
"""

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.error
import urllib.request

import psycopg2
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# No connection leaves the machine: this network refuses them anyway.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--disable-default-apps", "--hide-scrollbars", "--window-size=1280,900"]
passed = 0
failed = 0


def check(name, ok, detail=""):
    """Count and print one check."""
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % name, flush=True)
    else:
        failed += 1
        print("not ok - %s%s" % (name, ": " + detail if detail else ""), flush=True)
    return ok


def start_server(db, log):
    """Start server.py on a free port; return (process, base url)."""
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--db", db, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("recgan web page: http://127.0.0.1:"):
        proc.kill()
        sys.exit("webcheck: the server did not start (%r); see %s" % (line, log.name))
    return proc, line.split(": ", 1)[1].strip()


def get(url):
    """GET url: (status, content type, body)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def check_bad_requests(base):
    """Every bad request gets its status and one line of text, no traceback."""
    cases = [
        ("?liked=abc", 400, "not an item id"),
        ("?liked=1,,x2", 400, "not an item id"),
        ("?liked=99999999999999999999", 400, "not an item id"),
        ("?liked=987654321", 400, "unknown item id 987654321"),
        ("?liked=1&k=1000000", 400, "k:"),
        ("?k=0", 400, "k:"),
        ("?model=nope", 400, "unknown model"),
        ("?model=%27%3B%20DROP%20TABLE%20items%3B--", 400, "unknown model"),
        ("?q=" + "x" * 500, 400, "q: at most"),
        ("?q=a%00b", 400, "control characters"),
        ("?liked=1%FF", 400, "not an item id"),
        ("?foo=1", 400, "unknown parameter"),
        ("?k=5&k=6", 400, "given twice"),
        ("?liked=" + ",".join(str(i) for i in range(1, 80)), 400, "at most 50"),
        ("nope", 404, "not found"),
    ]
    for path, status, text in cases:
        code, ctype, body = get(base + path)
        check("bad request %s -> %d %r" % (path[:50], status, text),
              code == status and text in body and ctype.startswith("text/plain")
              and "Traceback" not in body and body.count("\n") == 1,
              "got %d %s %r" % (code, ctype, body[:200]))
    req = urllib.request.Request(base, data=b"x=1", method="POST")
    try:
        urllib.request.urlopen(req, timeout=30)
        code, body = 200, ""
    except urllib.error.HTTPError as err:
        code, body = err.code, err.read().decode()
    check("POST -> 501 without a traceback", code == 501 and "Traceback" not in body, "got %d" % code)


def check_role(db, item, model):
    """The page's role reads items and runs the web functions, nothing else."""
    conn = psycopg2.connect(dbname=db, user="recgan_web")
    conn.autocommit = True
    denied = [
        ("read recgan_models", "SELECT name FROM recgan_models LIMIT 1", ()),
        ("read the ratings", "SELECT 1 FROM ratings LIMIT 1", ()),
        ("read the training split", "SELECT 1 FROM ratings_train LIMIT 1", ()),
        ("read the test split", "SELECT 1 FROM ratings_test LIMIT 1", ()),
        ("serve a model without the web functions",
         "SELECT * FROM recgan_recommend_items(ARRAY[%s]::bigint[], 10, %s)", (item, model)),
        ("evaluate on another table", "SELECT * FROM recgan_evaluate(%s, 'ratings')", (model,)),
        ("write the items", "UPDATE items SET title = title", ()),
        ("k above 100 through the web functions",
         "SELECT * FROM web.recgan_recommend_items(ARRAY[%s]::bigint[], 101, %s)", (item, model)),
        ("a model that is not served", "SELECT * FROM web.recgan_similar_items(%s, 5, 'nope')", (item,)),
    ]
    for name, sql, params in denied:
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
            check("recgan_web cannot %s" % name, False, "the statement succeeded")
        except psycopg2.Error as err:
            check("recgan_web cannot %s" % name, True)
            print("    (%s: %s)" % (err.pgcode, err.diag.message_primary))
    with conn.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        check("recgan_web's transactions are read-only", cur.fetchone()[0] == "on")
    conn.close()


def browser(profile):
    """Headless Debian Chromium through Debian's chromedriver (nothing downloaded)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + ["--user-data-dir=" + profile]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    return driver


def wait_until(driver, condition):
    """Wait up to 60 s for condition(driver); a click that loads a new page can
    leave an element found by the old one stale while the condition runs, so
    that (and a missing element) only means: not yet."""
    return WebDriverWait(driver, 60, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)


def like_steps(cur):
    """(search text, titles to like) for MovieLens 100K, else the synthetic set."""
    cur.execute("SELECT count(*) FROM items WHERE title IN"
                " ('Star Wars (1977)', 'Empire Strikes Back, The (1980)', 'Return of the Jedi (1983)')")
    if cur.fetchone()[0] == 3:
        return [("Star Wars", 1), ("Empire Strikes Back", 1), ("Return of the Jedi", 1)]
    return [("(group 1)", 3)]


def liked_on_page(driver):
    """The ids in the page's "You like" list."""
    return [int(e.get_attribute("data-item-id")) for e in driver.find_elements(By.CSS_SELECTOR, "#liked li[data-item-id]")]


def search_and_like(driver, base, steps):
    """Type each search into the page's form and click its first like links."""
    driver.get(base)
    for query, n in steps:
        box = driver.find_element(By.CSS_SELECTOR, "form#search input[name=q]")
        box.clear()
        box.send_keys(query)
        driver.find_element(By.CSS_SELECTOR, "form#search button[type=submit]").click()
        wait_until(driver,
            lambda d: d.find_element(By.CSS_SELECTOR, "form#search input[name=q]").get_attribute("value") == query
            and d.find_elements(By.CSS_SELECTOR, "#results li"))
        for _ in range(n):
            before = len(liked_on_page(driver))
            links = driver.find_elements(By.CSS_SELECTOR, "#results a.like")
            if not check("search %r offers a title to like" % query, bool(links)):
                return []
            links[0].click()
            wait_until(driver, lambda d: len(liked_on_page(d)) == before + 1)
    return liked_on_page(driver)


def rendered_recs(driver):
    """(id, title, score text) of each row of the rendered top-k."""
    rows = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "table#recs tbody tr"):
        rows.append((int(tr.get_attribute("data-item-id")),
                     tr.find_element(By.CSS_SELECTOR, "td.title").text,
                     tr.find_element(By.CSS_SELECTOR, "td.score").text))
    return rows


def check_model(driver, cur, model, liked, test_source):
    """The rendered page for model equals recgan's answers queried directly."""
    link = driver.find_element(By.CSS_SELECTOR, 'nav#models a[data-model="%s"]' % model)
    link.click()
    wait_until(driver,
        lambda d: d.find_element(By.CSS_SELECTOR, "nav#models a.current").get_attribute("data-model") == model)
    cur.execute("SELECT r.item_id, i.title, r.score FROM recgan_recommend_items(%s::bigint[], 10, %s) r"
                " LEFT JOIN items i USING (item_id) ORDER BY r.rank", (liked, model))
    want = [(i, t, "%.4f" % s) for i, t, s in cur.fetchall()]
    got = rendered_recs(driver)
    check("%s: the rendered top-10 equals recgan_recommend_items(%s, 10, '%s')" % (model, liked, model),
          len(want) == 10 and got == want, "page %r\n    sql %r" % (got, want))
    for item in liked:
        cur.execute("SELECT item_id FROM recgan_similar_items(%s, 5, %s) ORDER BY rank", (item, model))
        want = [r[0] for r in cur.fetchall()]
        got = [int(e.get_attribute("data-item-id")) for e in
               driver.find_elements(By.CSS_SELECTOR, '.because[data-item-id="%d"] li[data-item-id]' % item)]
        check("%s: because you liked %d equals recgan_similar_items" % (model, item),
              got == want and len(want) == 5, "page %r, sql %r" % (got, want))
    cur.execute("SELECT metric, value FROM recgan_evaluate(%s, %s, '{10}')", (model, test_source))
    want = {m: "%.4f" % v for m, v in cur.fetchall()}
    got = {tr.get_attribute("data-metric"): tr.find_element(By.CSS_SELECTOR, 'td[data-model="%s"]' % model).text
           for tr in driver.find_elements(By.CSS_SELECTOR, "table#metrics tbody tr")}
    check("%s: the metrics equal recgan_evaluate on %s" % (model, test_source),
          got == want and len(want) >= 7, "page %r, sql %r" % (got, want))


def screenshot(driver, path):
    """Save the whole page as a PNG."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": min(max(height, 600), 4000),
                            "deviceScaleFactor": 1, "mobile": False})
    driver.save_screenshot(path)


def main():
    """Run every check; exit 1 if one failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True, help="directory for the screenshot and the server log")
    ap.add_argument("--test-source", default="ratings_test")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    conn = psycopg2.connect(dbname=args.db)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT name FROM web.served_models ORDER BY position")
    models = [r[0] for r in cur.fetchall()]
    check("models are served: %s" % ", ".join(models), len(models) >= 1)

    log = open(os.path.join(args.out, "server.log"), "w")
    proc, base = start_server(args.db, log)
    profile = tempfile.mkdtemp(prefix="recgan-chromium-")
    driver = None
    try:
        check("the page listens on 127.0.0.1", base.startswith("http://127.0.0.1:"))
        status, ctype, body = get(base)
        check("GET / -> 200 html", status == 200 and ctype.startswith("text/html") and "recgan" in body)
        check_bad_requests(base)

        driver = browser(profile)
        steps = like_steps(cur)
        liked = search_and_like(driver, base, steps)
        cur.execute("SELECT title FROM items WHERE item_id = ANY(%s::bigint[]) ORDER BY item_id", (liked,))
        titles = [r[0] for r in cur.fetchall()]
        check("three titles liked through the page: %s" % "; ".join(titles), len(liked) == 3)
        for model in models[1:] + models[:1]:      # end on the first (default) model
            check_model(driver, cur, model, liked, args.test_source)
        check_role(args.db, liked[0] if liked else 1, models[0])
        shot = os.path.join(args.out, "webcheck.png")
        screenshot(driver, shot)
        check("screenshot written to %s" % shot, os.path.getsize(shot) > 10000)
    except Exception as err:        # a timeout or a missing element: count it, go on to clean up
        traceback.print_exc()
        check("the browser test ran to its end", False, "%s: %s" % (type(err).__name__, err))
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        rest = proc.communicate(timeout=30)[0]
        shutil.rmtree(profile, ignore_errors=True)
        log.close()
    check("the page stops cleanly on SIGTERM", proc.returncode == 0 and "stopped" in rest,
          "exit status %s, output %r" % (proc.returncode, rest))
    print("webcheck: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
