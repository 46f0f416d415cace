"""`make report-check`: the report in a real browser. Runs pipelines/default.yaml on sample_data/
into OUTPUT (unless a finished run is there), writes its report with `curate report`, has
headless Chromium load the page and serialise the DOM it built, reads the node and reason tables
back from that DOM and checks them against _curate/stats.json, then takes the screenshot the README
shows.

    python -m tests.report.browser_check OUTPUT SCREENSHOT.png
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from curate.store.layout import WorkStore
from tests.conftest import CURATE, PIPELINES, ROOT, SAMPLE
from tests.report.html_page import parse, table_rows, value

# what a headless Chromium needs on a machine without a display, a GPU or a network
# (/usr/bin/chromium from Debian's package, run as root: hence no sandbox)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
WINDOW = (1280, 1720)  # the screenshot: the summary, the pipeline and what was removed


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    if browser is None:
        sys.exit("chromium not found: `apt-get install -y chromium` (make report-check does)")
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180, check=True)


def ensure_run(out: Path) -> None:
    if Path(WorkStore.open(out).success_file).exists():
        return
    subprocess.run([*CURATE, "run", str(PIPELINES / "default.yaml"), "--input", str(SAMPLE), "--output", str(out),
                    "--overwrite", "--workers", "2", "--quiet"], cwd=ROOT, check=True)


def check_tables(dom: str, stats: dict) -> int:
    """The tables as the browser built them equal the stats; returns the rows checked."""
    tree = parse(dom)
    nodes = {r[0].text: [value(c) for c in r[1:5]] for r in table_rows(tree.by_id("stages-table"))}
    want = {s["stage"]: [s["docs_in"], s["docs_out"], s["rejected_total"], s["errored"]] for s in stats["stages"]}
    assert nodes == want, f"node table {nodes} != stats {want}"
    reasons = {(r[0].text, r[1].text): value(r[2]) for r in table_rows(tree.by_id("reasons-table"))}
    want_reasons = {(s["stage"], k): n for s in stats["stages"] for k, n in s["rejected"].items()}
    assert reasons == want_reasons, f"reason table {reasons} != stats {want_reasons}"
    return len(nodes) + len(reasons)


def main(out: Path, screenshot: Path) -> None:
    ensure_run(out)
    page = subprocess.run([*CURATE, "report", str(out)], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="curate-chromium-") as profile:
        dom = chromium(["--dump-dom", url], Path(profile)).stdout
        checked = check_tables(dom, json.loads(Path(WorkStore.open(out).stats_file).read_text()))
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        chromium([f"--screenshot={screenshot.resolve()}", f"--window-size={WINDOW[0]},{WINDOW[1]}", url],
                 Path(profile))
    print(f"{page}: Chromium's DOM holds the {checked} table rows of _curate/stats.json; screenshot {screenshot}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
