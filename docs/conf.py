"""Sphinx configuration for the crnn documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""
import os
import re
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery renders figures off-screen

import crnn  # noqa: E402

DOCS = Path(__file__).resolve().parent

project = "crnn"
author = "crnn developers"
copyright = "crnn developers"
version = release = crnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",  # the changelog is Markdown (the repository's CHANGELOG.md)
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples/data"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# -- theme -----------------------------------------------------------------------
# pydata-sphinx-theme, with the version switcher in the navbar. Its list of
# versions is _static/switcher.json (checked at build time; the browser
# resolves the relative URL against the site root); a site that hosts
# several versions lists them there, or points json_url at a hosted copy.
html_theme = "pydata_sphinx_theme"
html_title = f"crnn {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "navbar_end": ["version-switcher", "theme-switcher", "navbar-icon-links"],
    "switcher": {"json_url": "_static/switcher.json", "version_match": release},
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"changelog": [], "install": []}

# -- autodoc / autosummary ----------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
# numpydoc renders the Parameters/Returns sections; keep autodoc from also
# printing type hints into the signature (there are none, but be explicit).
autodoc_typehints = "none"

# -- numpydoc -------------------------------------------------------------------
# Class members are listed by the autoclass directives in api.rst; letting
# numpydoc add its own member tables would duplicate them (and generate
# autosummary stub noise for every inherited scikit-learn method).
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# -- sphinx-gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    # only plot_*.py run during the build; the others (dask_speedup.py times
    # parallel runs for minutes) are shown as code
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

# -- changelog -------------------------------------------------------------------
# changelog.md is a placeholder; when the repository has a CHANGELOG.md its
# text replaces the placeholder's (an include would fail while it is absent).
# Its links point into the repository, not at documentation pages.
suppress_warnings = ["myst.xref_missing", "myst.header"]


def _use_repository_changelog(app, docname, source):
    changelog = DOCS.parent / "CHANGELOG.md"
    if docname == "changelog" and changelog.is_file():
        source[0] = changelog.read_text(encoding="utf-8")


# -- every public name is in the API reference -------------------------------------
def _public_names():
    import crnn.onnx
    import crnn.ops
    import crnn.reference

    names = [f"crnn.{n}" for n in crnn.__all__ if n != "__version__"]
    for module in (crnn.ops, crnn.reference, crnn.onnx):
        names += [f"{module.__name__}.{n}" for n in module.__all__]
    return names


def _check_api_reference(app):
    """Warn (an error under -W) for a public name that api.rst does not name.

    A name counts as documented when api.rst names it in a directive
    (``autoclass``, ``autofunction``, ``autoexception``, an ``autosummary``
    entry) or documents its whole module with ``:members:``.
    """
    from sphinx.util import logging

    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    words = set(re.findall(r"[\w.]+", text))
    with_members = set(re.findall(r"\.\. automodule:: ([\w.]+)\s+:members:", text))
    missing = []
    for name in _public_names():
        module, short = name.rsplit(".", 1)
        if module not in with_members and name not in words and short not in words:
            missing.append(name)
    if missing:
        logging.getLogger(__name__).warning(
            "api.rst does not document these public names: %s", ", ".join(missing))


def setup(app):
    app.connect("source-read", _use_repository_changelog)
    app.connect("builder-inited", _check_api_reference)

