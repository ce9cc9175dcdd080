"""The set-up notices a changed environment: pip check and the packages spikegen needs."""
import importlib.metadata

from spikegen import environment
from spikegen.environment import check_environment


def versions(**found):
    def version(name):
        if name not in found:
            raise importlib.metadata.PackageNotFoundError(name)
        return found[name]
    return version


def test_a_downgraded_nir_is_a_problem():
    # what installing sinabs or rockpool does: nir 1.0.4, and pip check sees no conflict
    (problem,) = check_environment(pip_check=False, version=versions(nir="1.0.4"))
    assert problem.startswith("nir 1.0.4 is older than 1.0.6, which spikegen needs")
    assert check_environment(pip_check=False, version=versions(nir="1.0.8")) == []
    assert check_environment(pip_check=False, version=versions(nir="1.0.10.post1")) == []


def test_a_missing_package_is_a_problem():
    assert check_environment(pip_check=False, version=versions()) == [
        "nir is not installed (spikegen needs nir >= 1.0.6)"]


def test_pip_check_complaints_are_problems(monkeypatch):
    monkeypatch.setattr(environment, "_pip_check",
                        lambda: ["sinabs 3.1.3 has requirement nir==1.0.4, but you have nir 1.0.8."])
    assert check_environment(version=versions(nir="1.0.8")) == [
        "sinabs 3.1.3 has requirement nir==1.0.4, but you have nir 1.0.8."]


def test_main_exit_status(monkeypatch, capsys):
    monkeypatch.setattr(environment, "check_environment", lambda: ["nir 1.0.4 is older"])
    assert environment.main() == 1
    assert "environment: nir 1.0.4 is older" in capsys.readouterr().err
    monkeypatch.setattr(environment, "check_environment", lambda: [])
    assert environment.main() == 0
