"""Render Great Expectations Data Docs (a static HTML site) for validations of pandas frames.

One call = one run: every frame is validated against its suite (result_format SUMMARY: counts
and at most ``PARTIAL_UNEXPECTED_COUNT`` unexpected values per expectation, never whole rows),
the results are stored as JSON under ``out_dir/_validation_results/``, and the site is
(re)built in ``out_dir`` (``out_dir/index.html``).

A run is a *night*, named by its run name, except a run whose name starts with ``cut-`` (a
data cut, :data:`CUT_PREFIX`): the site keeps the last ``keep_nights`` nights (setting
:data:`KEEP_NIGHTS_ENV`, 30 by default) and every cut. An older night's results are moved into
``out_dir/_archive/<run name>.zip`` (the JSON files, at their paths under
``_validation_results/``) and its pages deleted, so the index lists only what is kept.

The pages work with no network: GX's templates load Bootstrap, jQuery, bootstrap-table, Font
Awesome, Vega and the GX logo from CDNs; the build copies those files, installed from npm by
``make env`` (``assets/gx_docs/package.json`` and its lock, :data:`CDN_FILES`), into
``out_dir/static/vendor/`` and rewrites every page to load them by relative path.

Nothing is written outside ``out_dir``: the Data Context is ephemeral (in-memory stores, no
``gx/`` folder, no default temp docs site) and only its validation results store and its docs
site point at ``out_dir``. Tested with great-expectations 1.24.1.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import threading
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.context_factory import project_manager
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.exceptions import DataContextRequiredError
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

SITE_NAME = "nightly"
RESULTS_SUBDIR = "_validation_results"
ARCHIVE_SUBDIR = "_archive"
VENDOR_SUBDIR = "static/vendor"
PARTIAL_UNEXPECTED_COUNT = 20
_LOCK = threading.Lock()  # one build at a time: the "current context" is process-wide
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}

KEEP_NIGHTS_ENV = "ISLETFLOW_DOCS_KEEP_NIGHTS"
DEFAULT_KEEP_NIGHTS = 30
CUT_PREFIX = "cut-"  # run name of a data cut's run (flows/nightly.py): never pruned

# The npm packages of assets/gx_docs/package.json, installed by `make env` (npm ci).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "gx_docs" / "node_modules"
# Each URL GX 1.24.1's templates (render/view/templates/*.j2) load a script or stylesheet from
# -> the same file in its npm package (the versions of package.json are the URLs' versions).
# vega@5, vega-lite@5, vega-embed@6 are the latest 5.x / 5.x / 6.x releases (jsDelivr's choice
# for a major-only URL; the file is the package's "jsdelivr" entry). The filter-control CSS
# URLs name bootstrap-table 1.19.0: its files differ from 1.19.1's only in the version comment.
CDN_FILES: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        "@fortawesome/fontawesome-free/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        "popper.js/dist/umd/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap/dist/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap/dist/css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
}
# Folders the stylesheets above load files from (Font Awesome's url(../webfonts/...)).
VENDOR_DIRS = ("@fortawesome/fontawesome-free/webfonts",)
# GX's navbar logo (and its dark-theme background image) come from this bucket, with a
# ?d=<time>&dataContextId=... query that reports each page view: the local copy GX writes to
# static/images/ instead (it has no dark variant: the light logo serves both).
GX_IMAGES_URL = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GX_IMAGES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}
# Files of GX's static/ folder no page loads (gifs of its tutorials, unused fonts and logos:
# 4.05 of its 4.06 MB), deleted after each build; pages load static/images/favicon.ico and
# logo-long.png (its default stylesheet is inlined in each page; the file stays).
GX_STATIC_UNUSED = ("fonts", "images/glossary_scroller.gif",
                    "images/validation_failed_unexpected_values.gif",
                    "images/iterative-dev-loop.png", "images/short-logo.png",
                    "images/short-logo-vector.svg", "images/logo-long-vector.svg",
                    "styles/data_docs_custom_styles_template.css")


def run_name_for(started_at: dt.datetime, run_id: str, as_of: dt.date | None = None) -> str:
    """The Data Docs run name of a run: ``nightly-<start, UTC>-<run id's first 8>``, or for a
    data cut (an as-of run) ``cut-<as-of date>-<start>-<run id's first 8>``, which pruning
    keeps."""
    kind = f"{CUT_PREFIX}{as_of:%Y-%m-%d}" if as_of is not None else "nightly"
    return f"{kind}-{started_at:%Y%m%dT%H%M%S}-{run_id[:8]}"


def keep_nights_setting(value: str | int | None = None) -> int:
    """Nights of results a site keeps: ``value``, else the environment's
    :data:`KEEP_NIGHTS_ENV`, else :data:`DEFAULT_KEEP_NIGHTS`; 0 keeps every night."""
    raw = value if value is not None else os.environ.get(KEEP_NIGHTS_ENV) or DEFAULT_KEEP_NIGHTS
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(f"{KEEP_NIGHTS_ENV} must be a whole number of nights (0: keep all), "
                         f"not {raw!r}")
    return n


def build_data_docs(
    frames: dict[str, tuple[pd.DataFrame, Callable[[], gx.ExpectationSuite]]],
    out_dir: Path,
    run_name: str,
    keep_nights: int | None = None,
) -> Path:
    """Validate each ``{table: (frame, suite_factory)}``, prune the nights beyond
    ``keep_nights`` (:func:`keep_nights_setting`) and render the Data Docs site into
    ``out_dir``; return the path of its ``index.html``."""
    if not run_name or "/" in run_name or "\\" in run_name:
        raise ValueError(f"run_name must be a non-empty name without slashes: {run_name!r}")
    keep_nights = keep_nights_setting(keep_nights)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),  # in memory; no temp docs site
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    config.stores[config.validation_results_store_name] = {  # file-backed: runs accumulate
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(out_dir / RESULTS_SUBDIR)},
    }
    config.data_docs_sites = {SITE_NAME: {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(out_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                               "view": _view("IndexPageView")},
        # GX treats a run whose name contains "profiling" as a profiling run and hides it from
        # the validations section by default: show every run, render no profiling section.
        "site_section_builders": {"profiling": "False",
                                  "expectations": {"view": _view("PageView")},
                                  "validations": {"run_name_filter": {"matches_regex": ".*"},
                                                  "view": _view("PageView")}},
    }}

    with _LOCK:
        index = _build(frames, out_dir, run_name, config, keep_nights)
        localise_site(out_dir)
        return index


def _build(frames, out_dir: Path, run_name: str, config: DataContextConfig,
           keep_nights: int) -> Path:
    # get_context() makes the new context the process-wide "current" one; put back the
    # caller's (e.g. the context isletflow.quality caches) when done.
    try:
        previous = project_manager.get_current_project()
    except DataContextRequiredError:  # none yet
        previous = None
    try:
        context = gx.get_context(mode="ephemeral", project_config=config)
        run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.timezone.utc))
        datasource = context.data_sources.add_pandas("frames")
        suite_ids = set()
        for table, (frame, suite_factory) in frames.items():
            batch_definition = (datasource.add_dataframe_asset(table)
                                .add_batch_definition_whole_dataframe("whole"))
            suite = suite_factory()
            if suite.name in {s.name for s in context.suites.all()}:
                suite = context.suites.get(suite.name)  # two tables sharing one suite
            else:
                suite = context.suites.add(suite)
            suite_ids.add(ExpectationSuiteIdentifier(name=suite.name))
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=table, data=batch_definition, suite=suite))
            validation.run(batch_parameters={"dataframe": frame},
                           result_format=RESULT_FORMAT, run_id=run_id)

        kept = prune_results(out_dir, context.validation_results_store.list_keys(), keep_nights)
        new_keys = [k for k in kept if k.run_id.to_tuple() == run_id.to_tuple()]
        # Render only this run's pages (and the suites); the index lists every kept result.
        context.build_data_docs(site_names=[SITE_NAME],
                                resource_identifiers=[*new_keys, *suite_ids])
        return out_dir / "index.html"
    finally:
        project_manager.set_project(previous)


def _view(name: str) -> dict:
    return {"module_name": __name__, "class_name": name}


class _SharedEnvironment:
    """GX builds a Jinja environment per page view, so every build compiles its ~50 templates
    again (most of a build's time); these views keep the first one of their kind (its filters
    are bound to that first view, which has the same templates and settings)."""

    _envs: dict = {}

    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        key = (type(self), custom_styles_directory, custom_views_directory)
        self.env = self._envs.setdefault(key, self.env)


class PageView(_SharedEnvironment, DefaultJinjaPageView):
    """GX's page view (validation and expectation suite pages), templates compiled once."""


class IndexPageView(_SharedEnvironment, DefaultJinjaIndexPageView):
    """GX's index page view, templates compiled once."""


def result_path(key: ValidationResultIdentifier) -> str:
    """A result's JSON file under ``_validation_results/`` (GX's TupleFilesystemStoreBackend:
    suite name split at dots / run name / run time / batch id, ``.json``)."""
    return "/".join(key.to_tuple()) + ".json"


def page_path(key: ValidationResultIdentifier) -> str:
    """A result's page under the site (GX's DefaultSiteIndexBuilder links
    ``validations/`` + the same parts as :func:`result_path`, ``.html``)."""
    return "validations/" + "/".join(key.to_tuple()) + ".html"


def prune_results(out_dir: Path, keys: list[ValidationResultIdentifier],
                  keep_nights: int) -> list[ValidationResultIdentifier]:
    """Keep the results of the ``keep_nights`` latest nights (0: all) and of every cut
    (run name starting :data:`CUT_PREFIX`); move each other night's JSON files into
    ``_archive/<run name>.zip`` (:func:`archive_night`) and delete its pages. A night's time is
    its latest result's run time. Pages of results no longer stored are deleted too. Returns
    the kept keys.

    Safe to kill at any point: a night's JSON files are unlinked only after its archive is
    complete on disk, so a killed prune leaves each result in its archive, in
    ``_validation_results/`` or both, and the next prune (the night is still older than the
    kept ones) finishes the move. A ``*.zip.tmp`` a killed prune left is deleted first (its
    night's JSON files are still in place)."""
    latest: dict[str, dt.datetime] = {}
    for k in keys:
        name = k.run_id.run_name or ""
        latest[name] = max(latest.get(name, k.run_id.run_time), k.run_id.run_time)
    nights = sorted((n for n in latest if not n.startswith(CUT_PREFIX)),
                    key=lambda n: (latest[n], n), reverse=True)
    dropped = set(nights[keep_nights:]) if keep_nights else set()
    results = out_dir / RESULTS_SUBDIR
    archives = out_dir / ARCHIVE_SUBDIR
    for leftover in archives.glob("*.zip.tmp") if archives.is_dir() else ():
        leftover.unlink()
    for name in sorted(dropped):
        files = {result_path(k): results / result_path(k) for k in keys
                 if (k.run_id.run_name or "") == name}
        files = {member: path for member, path in files.items() if path.is_file()}
        if not files:
            continue
        archives.mkdir(exist_ok=True)
        archive_night(archives / f"{name}.zip", files)
        for path in files.values():  # only now: the archive holding them is on disk
            path.unlink()
            _remove_empty_dirs(path.parent, results)
    kept = [k for k in keys if (k.run_id.run_name or "") not in dropped]
    pages = out_dir / "validations"
    wanted = {out_dir / page_path(k) for k in kept}
    for page in list(pages.rglob("*.html")) if pages.is_dir() else ():
        if page not in wanted:
            page.unlink()
            _remove_empty_dirs(page.parent, pages)
    return kept


def archive_night(archive: Path, files: dict[str, Path]) -> None:
    """Make ``archive`` hold ``files`` (``{member name: JSON file}``) and the entries it already
    had, each name once: a file replaces an entry of its name (a night partly archived by a
    killed prune, or unzipped back). Written whole to ``<archive>.tmp``, fsynced, renamed over
    ``archive`` (os.replace: atomic) and the folder fsynced, so ``archive`` is at every moment
    either the old archive or the complete new one. An existing archive zipfile cannot read
    (e.g. left unclosed by a prune before this one) is kept aside as
    ``<archive>.broken-<n>`` (a warning), never overwritten."""
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    if archive.exists():
        try:
            with zipfile.ZipFile(archive) as old:
                entries = [(info, old.read(info)) for info in old.infolist()
                           if info.filename not in files]
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            n = 1
            while archive.with_name(f"{archive.name}.broken-{n}").exists():
                n += 1
            broken = archive.with_name(f"{archive.name}.broken-{n}")
            os.replace(archive, broken)
            _warn(f"Data Docs archive {archive} cannot be read ({type(exc).__name__}): kept "
                  f"aside as {broken.name}; {archive.name} is written anew with the night's "
                  "results still in _validation_results/")
            entries = []
    tmp = archive.with_name(f"{archive.name}.tmp")
    with open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for info, data in entries:
                zf.writestr(info, data)
            for member, path in sorted(files.items()):
                zf.write(path, member)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, archive)
    _fsync_dir(archive.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable: fsync the directory (POSIX; os.open cannot open a
    directory on Windows, where this is skipped)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_empty_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_relative_to(stop) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r'(\s(?:src|href)=")(https?://[^"]*)(")', re.IGNORECASE)
_STATIC_ATTR = re.compile(r'(\s(?:src|href)=")((?:\./|(?:\.\./)*)(?=static/))', re.IGNORECASE)
_SRI_ATTR = re.compile(r'\s(?:integrity|crossorigin)="[^"]*"', re.IGNORECASE)
_CSS_URL = re.compile(r"""(url\(\s*['"]?)(https?://[^'")\s]*)(['"]?\s*\))""", re.IGNORECASE)


def localise_site(out_dir: Path) -> list[str]:
    """Copy the CDN files of :data:`CDN_FILES` into ``out_dir/static/vendor/`` and make every
    page of the site load them, and GX's logo, by relative path; delete GX's unused static
    files. Without ``make env``'s npm packages the pages keep their CDN URLs (a warning).
    Returns the asset URLs left on some page (none when the assets are installed)."""
    installed = vendor_assets(out_dir)
    for unused in GX_STATIC_UNUSED:
        path = out_dir / "static" / unused
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    left: set[str] = set()
    for page in out_dir.rglob("*.html"):
        depth = len(page.relative_to(out_dir).parts) - 1
        text = page.read_text(encoding="utf-8")
        new = localise_page(text, "../" * depth, installed, left)
        if new != text:
            page.write_text(new, encoding="utf-8")
    if left:
        _warn(f"Data Docs in {out_dir} load {len(left)} file(s) from the internet "
              f"(e.g. {sorted(left)[0]}): run `make env` to install their local copies "
              "(assets/gx_docs)")
    return sorted(left)


def vendor_assets(out_dir: Path) -> bool:
    """Copy the installed npm files into ``out_dir/static/vendor/`` (a file already there with
    the same size is left); False when ``make env`` has not installed them."""
    files = [*CDN_FILES.values()]
    for folder in VENDOR_DIRS:
        if (ASSETS_DIR / folder).is_dir():
            files += [str(p.relative_to(ASSETS_DIR)) for p in (ASSETS_DIR / folder).iterdir()]
    if not all((ASSETS_DIR / f).is_file() for f in files):
        return False
    for f in files:
        src, dst = ASSETS_DIR / f, out_dir / VENDOR_SUBDIR / f
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return True


def localise_page(text: str, prefix: str, vendored: bool, left: set[str]) -> str:
    """``text`` of a page ``prefix`` (``../`` per folder) below the site's root with its CDN
    scripts and stylesheets (when ``vendored``) and GX's logo loaded from the site, and its
    links to the site's ``static/`` folder made relative to its own folder; the URLs it could
    not replace are added to ``left``. Subresource-integrity attributes go with the
    CDN URLs (a file:// page cannot check them; the npm lock's hashes checked the files)."""

    def local(url: str) -> str | None:
        if vendored and url in CDN_FILES:
            return f"{prefix}{VENDOR_SUBDIR}/{CDN_FILES[url]}"
        if url.startswith(GX_IMAGES_URL):
            name = GX_IMAGES.get(url[len(GX_IMAGES_URL):].split("?")[0])
            if name:
                return f"{prefix}static/images/{name}"
        return None

    def tag(m: re.Match) -> str:
        t = m.group(0)
        static = _STATIC_ATTR.search(t)
        if static is not None:  # GX's favicon link is a folder short on validation pages
            return t[:static.start(2)] + prefix + t[static.end(2):]
        attr = _URL_ATTR.search(t)
        if attr is None:
            return t
        url = attr.group(2)
        if t.lower().startswith("<link") and not _is_asset_link(t):
            return t
        path = local(url)
        if path is None:
            left.add(url)
            return t
        return _SRI_ATTR.sub("", t[:attr.start(2)] + path + t[attr.end(2):])

    def css_url(m: re.Match) -> str:
        path = local(m.group(2))
        if path is None:
            left.add(m.group(2))
            return m.group(0)
        return m.group(1) + path + m.group(3)

    return _CSS_URL.sub(css_url, _TAG.sub(tag, text))


def _is_asset_link(tag: str) -> bool:
    """A <link> that loads a file (stylesheet, icon, preload), not one that only names a page."""
    rel = re.search(r'\srel="([^"]*)"', tag, re.IGNORECASE)
    return rel is None or bool(set(rel.group(1).lower().split()) & {
        "stylesheet", "icon", "shortcut", "preload", "modulepreload", "prefetch", "manifest",
        "apple-touch-icon"})


def _warn(message: str) -> None:
    """A warning for the caller (``warnings``) and for the run's log: importing
    great_expectations routes ``warnings`` to a logger that prints nothing."""
    warnings.warn(message, stacklevel=4)
    logging.getLogger(__name__).warning(message)
