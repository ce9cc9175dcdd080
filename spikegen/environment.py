"""Is the Python environment still the one spikegen was installed into?

Installing another framework into the same environment can change packages under spikegen:
Sinabs and Rockpool pin ``nir`` 1.0.4 and ``nirtorch`` 2.0.2, which break snnTorch 1.0's NIR
exporter (``LIF`` has no ``v_reset`` before ``nir`` 1.0.6) though ``pip check`` sees no
conflict (snnTorch declares no dependencies). :func:`check_environment` runs ``pip check`` and
compares the packages spikegen needs newer than their declared floors with :data:`MINIMUMS`;
``scripts/setup.sh`` runs it (``python -m spikegen.environment``) and reinstalls on a problem.
"""
import importlib.metadata
import re
import subprocess
import sys


__all__ = ["MINIMUMS", "check_environment", "main"]


#: Oldest release of each package that the tests and snnTorch's exporter work with.
MINIMUMS = {
    # LIF/CubaLIF v_reset, which snnTorch 1.0's export_to_nir writes, appeared in nir 1.0.6
    "nir": "1.0.6",
}


def _release(text):
    """The leading numbers of a version string (``"1.0.4.post1"`` -> ``(1, 0, 4)``)."""
    numbers = re.match(r"\d+(?:\.\d+)*", text.strip())
    return tuple(int(n) for n in numbers.group(0).split(".")) if numbers else ()


def _pip_check():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                            text=True)
    if result.returncode == 0:
        return []
    return [line.strip() for line in (result.stdout + result.stderr).splitlines()
            if line.strip()] or ["pip check failed"]


def check_environment(minimums=None, *, pip_check=True, version=None):
    """The problems found in the running Python environment (an empty list when none).

    Parameters
    ----------
    minimums : dict of str to str or None
        ``{distribution: oldest version}``; ``None`` means :data:`MINIMUMS`.
    pip_check : bool
        Also run ``pip check`` (about a second), whose complaints are returned as they are.
    version : callable or None
        ``version(name) -> str`` (default :func:`importlib.metadata.version`), for tests.

    Returns
    -------
    list of str
        One line per problem, each saying what was found and what is needed.
    """
    version = version or importlib.metadata.version
    problems = _pip_check() if pip_check else []
    for name, minimum in (MINIMUMS if minimums is None else minimums).items():
        try:
            found = version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed (spikegen needs {name} >= {minimum})")
            continue
        if _release(found) < _release(minimum):
            problems.append(f"{name} {found} is older than {minimum}, which spikegen needs "
                            "(another framework, e.g. sinabs or rockpool, may have pinned it)")
    return problems


def main(argv=None):
    """``python -m spikegen.environment``: print the problems; exit status 1 if any."""
    problems = check_environment()
    for problem in problems:
        print(f"environment: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
