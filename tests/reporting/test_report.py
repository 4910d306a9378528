"""The report: every section with real figures, self-contained, and it renders in a browser."""

import re
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

from propensity.demo.project import init_project
from propensity.modeling.bundle import load_bundle
from propensity.project import Project
from propensity.reporting._render import render

SECTIONS = [
    "1. The question and the data",
    "2. What the data already says",
    "3. Models compared",
    "4. How good, and how sure",
    "5. The decision",
    "6. Why",
    "7. Model card",
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    init_project(root, demo=True, customers=1500, seed=11, force=True)
    text = (root / "propensity.toml").read_text()
    text = text.replace('start = "2024-01-01"', 'start = "2024-10-01"')
    text = text.replace('windows = ["30d", "90d", "365d"]', 'windows = ["30d", "90d"]')
    text += "\n[backtest]\nfolds = 2\n\n[train]\n"
    text += 'candidates = ["prior", "recency", "logistic", "lightgbm"]\n'
    (root / "propensity.toml").write_text(text)
    Project.load(root).train()
    return root


@pytest.fixture(scope="module")
def page(shop):
    done = subprocess.run(
        [sys.executable, "-m", "propensity.cli", "report", "--project", str(shop)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip().split("report: ")[-1].replace("\n", "")
    return __import__("pathlib").Path(path)


def test_every_section_with_the_run_s_own_figures(shop, page):
    html = page.read_text()
    for heading in SECTIONS:
        assert heading in html
    project = Project.load(shop)
    version = (project.workspace / "bundles" / "LATEST").read_text().strip()
    manifest = load_bundle(project.workspace / "bundles" / version).manifest
    assert page.name == f"{version}.html"
    assert f"<b>{manifest['chosen']}</b>" in html
    assert f"{manifest['test']['roc_auc']:.3f}" in html
    for row in manifest["leaderboard"]:
        assert f"<td>{row['candidate']}</td>" in html
    # the decision follows the spec's policy: capacity 500, benefit 120, cost 5
    assert "at most 500 contacts" in html
    assert "call within a week" in html  # a tier's action
    assert html.count("<svg") >= 8
    summary = project.build_report().summary()
    assert summary["decision"]["profit"]["volume"] <= 500
    assert len(summary["examples"]) == 3
    assert all(1 <= len(e["reasons"]) <= 3 for e in summary["examples"])
    assert summary["drivers"]["method"] in ("treeshap", "linear")


def test_the_page_is_self_contained_and_small(page):
    html = page.read_text()
    assert page.stat().st_size < 3_000_000
    without_ns = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", without_ns)
    for pattern in (r"<script", r"<link", r"\bsrc\s*=", r"\bhref\s*=", r"url\(", r"@import"):
        assert not re.search(pattern, html, re.IGNORECASE), pattern


def _head(page):
    return page[: page.index("<title>")] + page[page.index("</title>") : page.index("<main>")]


def test_text_from_the_data_is_escaped_and_the_frame_is_the_shared_base(shop):
    report = Project.load(shop).build_report()
    summary = report.summary()  # the page renders this very dict
    summary["title"] = "Shop <b>&</b>"
    summary["examples"][0]["reasons"] = ["<script>alert(1)</script>"]
    summary["warnings"] = ["odd <i>data</i>"]
    html = report.to_html()
    assert "<script" not in html
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in html
    assert "<h1>Shop &lt;b&gt;&amp;&lt;/b&gt;</h1>" in html
    assert "<title>Shop &lt;b&gt;&amp;&lt;/b&gt;: churn report</title>" in html
    assert "<p class='warn'>odd &lt;i&gt;data&lt;/i&gt;</p>" in html
    assert "<li>odd &lt;i&gt;data&lt;/i&gt;</li>" in html  # and among the limitations
    assert _head(html) == _head(render("base.html.j2"))


def _png_pixels(data):
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color = header[:4]
    assert depth == 8
    assert color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def test_the_page_renders_in_headless_chromium(page, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (make test installs it where it can)")
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert "Failed to load resource" not in done.stderr
    width, height, bpp, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2400)
    # not blank: many distinct colours, and plenty of non-background pixels
    colours = set()
    ink = 0
    for row in rows[::8]:
        for x in range(0, len(row), bpp * 8):
            pixel = row[x : x + 3]
            colours.add(pixel)
            ink += pixel != b"\xf6\xf7\xf9" and pixel != b"\xff\xff\xff"
    assert len(colours) > 20
    assert ink > 1000
