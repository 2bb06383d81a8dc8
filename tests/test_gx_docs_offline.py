"""Data Docs render with no network: every script, stylesheet, font and image a page loads is a
file of the site (static/vendor/: the npm packages `make env` installs from
assets/gx_docs/package-lock.json; static/images/: GX's logo), checked on the files, and in
headless Chromium with every host name unresolvable (when chromium is installed; .ci/run
installs Debian's)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import great_expectations
import pandas as pd
import pytest

from isletflow.gx_docs import ASSETS_DIR, CDN_FILES, build_data_docs
from schemas.gx_suites import GX_SUITES

TEMPLATES = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# 39 mg/dL is below the CGM suite's 40 (a failed expectation: a red "x" icon from Font
# Awesome); HbA1c 6.5 % lies in 3-20 %
CGM = pd.DataFrame({"participant_id": ["US01-001"] * 3, "glucose_mg_dl": [100, 39, 120],
                    "timestamp_utc": pd.to_datetime(["2025-01-01 00:00"] * 3)})
LAB = pd.DataFrame({"analyte": ["hba1c"], "value": [6.5],
                    "collection_date": pd.to_datetime(["2025-01-02"])})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    assert (ASSETS_DIR / "jquery" / "package.json").is_file(), \
        "the Data Docs assets are not installed: run `make env` (npm ci in assets/gx_docs)"
    docs = tmp_path_factory.mktemp("site") / "gx_docs"
    for night in ("nightly-1", "nightly-2"):
        build_data_docs({"cgm_readings": (CGM, GX_SUITES["cgm_readings"]),
                         "lab_results": (LAB, GX_SUITES["lab_results"])}, docs, night)
    return docs


_REF = re.compile(r"""<(script|link|img)\b[^>]*?\s(?:src|href)="([^"]*)"[^>]*>""", re.I)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""")


def loaded_refs(html: str) -> list[str]:
    """What a page loads: script src, link href (not rel=canonical/alternate page links: GX
    writes none), img src, and url() in its inline styles."""
    return [m.group(2) for m in _REF.finditer(html)] + _CSS_URL.findall(html)


def local_file(base: Path, ref: str) -> Path:
    return (base / urllib.parse.unquote(ref.split("?")[0].split("#")[0])).resolve()


def test_no_page_loads_anything_from_the_internet(site):
    pages = sorted(site.rglob("*.html"))
    # index, 2 suites, 2 nights x 2 tables
    assert len(pages) == 7
    for page in pages:
        refs = loaded_refs(page.read_text(encoding="utf-8"))
        # GX's templates: 6 stylesheets and 9 scripts, the favicon, the logo, and the logo
        # again as the dark theme's navbar background (a url() in the page's inline style)
        assert len(refs) == 18, page
        for ref in refs:
            if ref.startswith("data:"):
                continue
            assert not re.match(r"(?i)(https?:)?//", ref), f"{page}: {ref}"
            path = local_file(page.parent, ref)
            assert path.is_file() and path.is_relative_to(site), f"{page}: {ref}"


def test_stylesheets_load_their_fonts_from_the_site(site):
    css = sorted((site / "static" / "vendor").rglob("*.css"))
    # bootstrap, bootstrap-table (+ its filter control, .css and .min.css), datepicker,
    # bootstrap-dark, Font Awesome
    assert len(css) == 7
    fonts = set()
    for sheet in css:
        for ref in _CSS_URL.findall(sheet.read_text(encoding="utf-8")):
            if ref.startswith("data:"):
                continue
            assert not re.match(r"(?i)(https?:)?//", ref), f"{sheet}: {ref}"
            assert local_file(sheet.parent, ref).is_file(), f"{sheet}: {ref}"
            fonts.add(Path(ref).name)
    # Font Awesome 6.6.0's all.min.css: brands, regular, solid and v4 shims, woff2 and ttf
    assert {"fa-solid-900.woff2", "fa-regular-400.woff2", "fa-brands-400.woff2"} <= fonts


def test_vendored_files_are_the_ones_gx_pins():
    """popper.js and bootstrap.js carry GX's subresource-integrity hashes (sha384, in its
    js_script_imports.j2): the npm files are byte for byte what the CDN serves."""
    template = (TEMPLATES / "js_script_imports.j2").read_text(encoding="utf-8")
    pinned = re.findall(r'<script src="([^"]+)" integrity="sha384-([^"]+)"', template)
    assert len(pinned) == 2
    for url, digest in pinned:
        data = (ASSETS_DIR / CDN_FILES[url]).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == digest
    # every CDN URL of GX's templates has a local file
    urls = set()
    for t in TEMPLATES.glob("*.j2"):
        urls |= set(re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"',
                               t.read_text(encoding="utf-8")))
    assert urls == set(CDN_FILES)


PROBE = """<pre id="probe"></pre><script>
window.addEventListener('load', async () => {
  await new Promise(done => setTimeout(done, 1000));  // pages build some tables after load
  const out = {jquery: window.jQuery ? jQuery.fn.jquery : null,
               bootstrap_table: !!(window.jQuery && jQuery.fn.bootstrapTable),
               tables_built: document.querySelectorAll('div.bootstrap-table').length,
               navbar: getComputedStyle(document.querySelector('nav.navbar')).position,
               logo_width: document.querySelector('.navbar-brand img').naturalWidth};
  await document.fonts.load('900 16px "Font Awesome 6 Free"');
  out.fonts = [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family);
  out.internet = await new Promise(done => {  // the control: a CDN file must not load
    const img = new Image();
    img.onload = () => done('reached'); img.onerror = () => done('blocked');
    img.src = 'https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png';
  });
  document.getElementById('probe').textContent = JSON.stringify(out);
});
</script>"""


def rendered(page: Path, tmp_path: Path) -> dict:
    """What a copy of ``page`` with :data:`PROBE` appended (beside it, so its relative links
    hold) finds in headless Chromium after its scripts ran, with no host name resolvable."""
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    try:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
             "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    return json.loads(found.group(1))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (CI installs Debian's)")
def test_pages_render_styled_offline_in_chromium(site, tmp_path):
    page = next((site / "validations" / "cgm_readings").rglob("*.html"))
    for shown in (site / "index.html", page):
        out = rendered(shown, tmp_path)
        assert out["internet"] == "blocked"
        assert out["jquery"] == "3.7.1" and out["bootstrap_table"], shown
        assert out["tables_built"] >= 1, shown  # bootstrap-table built its table(s)
        assert out["navbar"] == "sticky", shown  # Bootstrap's .sticky-top applied
        assert out["logo_width"] > 0, shown  # GX's logo, from static/images
        assert "Font Awesome 6 Free" in out["fonts"], shown


def test_without_the_installed_assets_pages_keep_the_cdn_and_say_so(tmp_path, monkeypatch):
    """No `make env`: the CDN URLs stay (the pages still work online), with a warning that
    names the fix; GX's logo is local either way."""
    import isletflow.gx_docs as gx_docs

    monkeypatch.setattr(gx_docs, "ASSETS_DIR", tmp_path / "not-installed")
    jquery = "https://code.jquery.com/jquery-3.7.1.min.js"
    logo = gx_docs.GX_IMAGES_URL + "logo-long.png?d=20250101T000000.000000Z"
    page = tmp_path / "site" / "expectations" / "cgm_readings.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<head><script src="{jquery}"></script></head><body><img src="{logo}">'
                    "</body>", encoding="utf-8")
    with pytest.warns(UserWarning, match="make env"):
        left = gx_docs.localise_site(tmp_path / "site")
    assert left == [jquery]
    assert page.read_text(encoding="utf-8") == (
        f'<head><script src="{jquery}"></script></head>'
        '<body><img src="../static/images/logo-long.png"></body>')
