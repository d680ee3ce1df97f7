#!/usr/bin/python3
"""The browser tier: report.html and memory-<suite>.svg as Debian's chromium (headless) shows them.

Runs profiles/example.yaml (passed / oom-killed / timeout) with corral, then
  - loads report.html with --dump-dom and checks one plot per suite, each with as many points (curve
    vertices and tooltip columns) as report.json has samples, the OOM-kill marker in the oom suite and
    the timeout and SIGKILL markers in the hang suite;
  - takes a --screenshot of report.html and of memory-oom.svg, decodes the PNGs (zlib + struct) and
    requires colour in them: in the plot area of memory-oom.svg, the curve's blue, the red of the
    memory.max line and OOM marker, and several distinct colours.
Chromium runs as root with --no-sandbox, a throw-away --user-data-dir, every host name unresolvable
and a dead proxy (no network), under a timeout. CORRAL_SKIP_BROWSER_TESTS=1 skips the tier; a
missing chromium fails it with the command that installs it. CORRAL_BROWSER_KEEP=DIR copies the two
screenshots there (to look at them).

usage: report-page.py CORRAL_BIN PROGS_DIR SOURCE_DIR
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from html.parser import HTMLParser

SKIP_LINE = "corral-test-tier skipped: "
CHROMIUM_TIMEOUT_S = 90
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def chromium(binary, user_dir, *args):
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + user_dir,
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S,
                           env=dict(os.environ, HOME=user_dir))
    except subprocess.TimeoutExpired:
        sys.exit(f"browser tier: chromium did not finish within {CHROMIUM_TIMEOUT_S} s: {' '.join(cmd)}")
    if r.returncode != 0:
        sys.exit(f"browser tier: chromium exited {r.returncode}: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


class Plots(HTMLParser):
    """The plots of a DOM: per <svg class="corral-memory">, its suite, curve vertices, sample columns and
    marker groups."""

    def __init__(self):
        super().__init__()
        self.plots, self.depth, self.cur = [], 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "svg" and "corral-memory" in cls:
            self.cur = {"suite": a.get("data-suite"), "vertices": None, "columns": 0, "groups": []}
            self.plots.append(self.cur)
            self.depth = 0
        if self.cur is None:
            return
        if tag == "svg":
            self.depth += 1
        if tag == "polyline" and "cm-curve" in cls:
            self.cur["vertices"] = len(a.get("points", "").split())
        if tag == "rect" and "cm-s" in cls:
            self.cur["columns"] += 1
        if tag == "g":
            self.cur["groups"] += cls

    def handle_endtag(self, tag):
        if tag == "svg" and self.cur is not None:
            self.depth -= 1
            if self.depth == 0:
                self.cur = None


def expected_points(suite):
    """The samples report.json holds for a suite, one point per distinct time (samples, history buckets'
    ends, the samples around OOM kills, the peak)."""
    mem = suite["memory"]
    times = {row[0] for row in mem["samples"]} | {row[0] for row in mem["oom_samples"]}
    for b in mem["history"]:
        times |= {b[0], b[1]}
    if mem.get("peak_sample"):
        times.add(mem["peak_sample"]["t_s"])
    return min(len(times), 2000)


def read_png(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG, non-interlaced."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"browser tier: {path} is not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        sys.exit(f"browser tier: {path}: PNG of bit depth {depth}, colour type {ctype}, interlace {interlace} "
                 "is not decoded here (8-bit RGB/RGBA only)")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def colours(rows, x0, y0, x1, y1):
    """Pixel counts per colour in the box [x0, x1) × [y0, y1)."""
    seen = {}
    for row in rows[y0:y1]:
        for px in row[x0:x1]:
            seen[px] = seen.get(px, 0) + 1
    return seen


def main():
    if os.environ.get("CORRAL_SKIP_BROWSER_TESTS") == "1":
        print(SKIP_LINE + "CORRAL_SKIP_BROWSER_TESTS=1 (the browser tier: report.html in headless chromium)")
        return 0
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    corral, progs, source = sys.argv[1:]
    browser = shutil.which("chromium")
    if not browser:
        sys.exit("browser tier: chromium is not installed: apt-get install chromium (or make deps)")
    with tempfile.TemporaryDirectory(prefix="corral-browser-") as tmp:
        # The example runs build/progs/...: point it at this build's programs.
        text = open(os.path.join(source, "profiles", "example.yaml")).read().replace("build/progs/", progs + "/")
        profile = os.path.join(tmp, "example.yaml")
        open(profile, "w").write(text)
        reports = os.path.join(tmp, "reports")
        run = subprocess.run([corral, "run", "--report-dir", reports, profile], capture_output=True, text=True,
                             timeout=60, cwd=source)
        print(run.stderr[-2000:])
        check(run.returncode == 1, f"corral run exits 1 (got {run.returncode})")
        report = json.load(open(os.path.join(reports, "report.json")))
        verdicts = {s["name"]: s["verdict"] for s in report["suites"]}
        check(verdicts == {"unit": "passed", "oom": "oom-killed", "hang": "timeout"}, f"verdicts {verdicts}")
        user_dir = os.path.join(tmp, "chromium")

        page = "file://" + os.path.join(reports, "report.html")
        dom = chromium(browser, user_dir, "--dump-dom", page)
        parser = Plots()
        parser.feed(dom)
        by_suite = {p["suite"]: p for p in parser.plots}
        check(len(parser.plots) == len(report["suites"]) and set(by_suite) == set(verdicts),
              f"one plot per suite: {[p['suite'] for p in parser.plots]}")
        for s in report["suites"]:
            p = by_suite.get(s["name"], {})
            want = expected_points(s)
            check(want > 0 and p.get("vertices") == want and p.get("columns") == want,
                  f"suite {s['name']}: {want} samples in report.json, the plot draws {p.get('vertices')} curve "
                  f"vertices and {p.get('columns')} tooltip columns")
        check("cm-oom-marker" in by_suite.get("oom", {}).get("groups", []), "the oom plot marks its OOM kill")
        hang = by_suite.get("hang", {}).get("groups", [])
        check("cm-timeout-marker" in hang and "cm-kill-marker" in hang, "the hang plot marks its timeout and SIGKILL")
        for s in report["suites"]:
            svg = "memory-" + s["name"] + ".svg"
            check(f'href="{svg}"' in dom and os.path.exists(os.path.join(reports, svg)), f"the page links {svg}")

        shot = os.path.join(tmp, "page.png")
        chromium(browser, user_dir, "--window-size=1000,1600", "--screenshot=" + shot, page)
        w, h, rows = read_png(shot)
        page_colours = colours(rows, 0, 0, w, h)
        check(len(page_colours) >= 20, f"report.html screenshot {w}x{h}: {len(page_colours)} distinct colours")

        # memory-oom.svg alone: 900×330, its plot area 76..882 × 40..284 (src/report/memory_svg.cpp).
        plot_shot = os.path.join(tmp, "oom.png")
        chromium(browser, user_dir, "--window-size=900,330", "--screenshot=" + plot_shot,
                 "file://" + os.path.join(reports, "memory-oom.svg"))
        w, h, rows = read_png(plot_shot)
        area = colours(rows, 77, 41, min(w, 881), min(h, 283))
        total = sum(area.values())
        white = area.get((255, 255, 255), 0)
        blue = sum(n for (r, g, b), n in area.items() if b > 150 and r < 120)
        red = sum(n for (r, g, b), n in area.items() if r > 150 and g < 80 and b < 80)
        check(len(area) >= 8, f"memory-oom.svg plot area: {len(area)} distinct colours")
        check(total > 0 and (total - white) / total >= 0.05,
              f"memory-oom.svg plot area: {total - white} of {total} pixels are not white")
        check(blue >= 200, f"memory-oom.svg plot area: {blue} pixels of the curve's blue")
        check(red >= 200, f"memory-oom.svg plot area: {red} pixels of memory.max / OOM-kill red")
        if os.environ.get("CORRAL_BROWSER_KEEP"):
            for f in (shot, plot_shot):
                shutil.copy(f, os.environ["CORRAL_BROWSER_KEEP"])
    if failures:
        print(f"browser tier: {len(failures)} check(s) failed")
        return 1
    print("browser tier: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
