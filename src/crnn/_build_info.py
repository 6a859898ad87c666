"""Report how the compiled kernels were built."""
import platform

# Imported with crnn so that a CRNN_SIMD value the kernels could not honour
# is reported (a RuntimeWarning) when crnn is imported, not on first use.
from crnn import _simd


def build_info():
    """Return a dict describing the compiled extension and its environment.

    Returns
    -------
    info : dict
        ``boundscheck`` (bool): kernels compiled with bounds and wraparound
        checks (the debug build); ``openmp`` (bool); ``simd``: the SIMD path
        the gate passes run on (``"sse2"``, ``"avx2"`` or ``"avx512"``,
        overridable with the environment variable ``CRNN_SIMD`` before
        crnn is imported) and ``simd_supported``, the paths this CPU can
        run; ``avx512_tile_rows``: rows of the AVX-512 path's widest product
        tile (12, or 8 on AMD CPUs; ``CRNN_AVX512_TILE_ROWS`` overrides it);
        ``flush_denormals``: how the kernels flush subnormal numbers to
        zero on this platform; the Cython version, C compiler, compile flags and CMake build
        type used; NumPy and SciPy versions; the BLAS libraries in use if
        threadpoolctl is installed.
    """
    import numpy
    import scipy

    from crnn import _build_config, _recurrent

    info = {
        "crnn": __import__("crnn").__version__,
        "boundscheck": _build_config.BOUNDSCHECK,
        "openmp": _build_config.OPENMP,
        "simd": _simd.simd_path(),
        "simd_supported": _simd.supported_paths(),
        "avx512_tile_rows": _simd.avx512_tile_rows(),
        "cython": _build_config.CYTHON_VERSION,
        "compiler": _build_config.C_COMPILER,
        "build_type": _build_config.BUILD_TYPE,
        "flush_denormals": _recurrent.flush_denormals_mode() or "not available",
        "c_flags": _build_config.C_FLAGS,
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
    """Print how crnn's kernels were compiled (bounds checking, OpenMP, SIMD, BLAS)."""
    for key, value in build_info().items():
        if isinstance(value, list):
            value = ("; " if key == "blas" else ", ").join(value) or "none found"
        print(f"{key:>15}: {value}")
