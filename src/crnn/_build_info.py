"""Report how the compiled kernels were built."""
import platform


def build_info():
    """Return a dict describing the compiled extension and its environment.

    Returns
    -------
    info : dict
        ``boundscheck`` (bool): kernels compiled with bounds and wraparound
        checks (the debug build); ``openmp`` (bool); ``flush_denormals``: how
        the kernels flush subnormal numbers to zero on this platform; the Cython version, C
        compiler and CMake build type used; NumPy and SciPy versions; the BLAS
        libraries in use if threadpoolctl is installed.
    """
    import numpy
    import scipy

    from crnn import _build_config, _recurrent

    info = {
        "crnn": __import__("crnn").__version__,
        "boundscheck": _build_config.BOUNDSCHECK,
        "openmp": _build_config.OPENMP,
        "cython": _build_config.CYTHON_VERSION,
        "compiler": _build_config.C_COMPILER,
        "build_type": _build_config.BUILD_TYPE,
        "flush_denormals": _recurrent.flush_denormals_mode() or "not available",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["blas"] = "unknown (install threadpoolctl to report it)"
    else:
        import scipy.linalg  # noqa: F401  loads SciPy's BLAS so it is listed

        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                        f"({p.get('num_threads')} threads, {p.get('filepath')})"
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    return info


def show_build_info():
    """Print how crnn's kernels were compiled (bounds checking, OpenMP, BLAS)."""
    for key, value in build_info().items():
        if isinstance(value, list):
            value = "; ".join(value) or "none found"
        print(f"{key:>11}: {value}")
