"""Sphinx configuration for the crnn documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery renders figures off-screen

import crnn  # noqa: E402

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
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"

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
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}

