"""The admission policy alone (state + now -> decision), and the settings that configure it."""

from __future__ import annotations

import pydantic
import pytest

from analyzer.records import RunInfo, RunState
from analyzer.service.admission import PROJECT_FULL, RATE_LIMITED, Admission, running_by_project
from analyzer.service.config import AnalyzerSettings


def test_a_project_takes_new_runs_up_to_its_cap() -> None:
    policy = Admission(max_active=2, per_minute=100)
    assert [policy.admit("a", "p", 0.0) for _ in range(3)] == [None, None, PROJECT_FULL]
    assert policy.admit("a", "q", 0.0) is None  # another project has its own cap
    policy.refresh({"p": 1}, 1.0)  # a run of p finished: the sweep recounts
    assert policy.admit("a", "p", 1.0) is None
    assert policy.admit("a", "p", 1.0) == PROJECT_FULL


def test_an_identity_gets_per_minute_runs_at_once_then_one_per_interval() -> None:
    policy = Admission(max_active=1000, per_minute=3)
    assert [policy.admit("a", "p", 10.0) for _ in range(4)] == [None, None, None, RATE_LIMITED]
    assert policy.admit("b", "p", 10.0) is None  # identities are counted apart
    assert policy.admit("a", "p", 29.0) == RATE_LIMITED  # a token takes 60 / 3 = 20 s
    assert policy.admit("a", "p", 30.0) is None
    assert policy.admit("a", "p", 30.0) == RATE_LIMITED


def test_a_refusal_charges_nothing() -> None:
    policy = Admission(max_active=1, per_minute=2)
    assert policy.admit("a", "full", 0.0) is None
    assert policy.admit("a", "full", 0.0) == PROJECT_FULL  # no token spent on it
    assert policy.admit("a", "other", 0.0) is None
    assert policy.admit("a", "third", 0.0) == RATE_LIMITED
    assert policy.active == {"full": 1, "other": 1}  # nor a slot on a rate refusal


def test_refresh_forgets_only_identities_whose_bucket_refilled() -> None:
    policy = Admission(max_active=10, per_minute=60)
    policy.admit("old", "p", 0.0)
    policy.admit("recent", "p", 59.5)
    assert policy.tracked == 2
    policy.refresh({}, 60.0)
    assert policy.tracked == 1  # "old" is as good as new; "recent" is half a token short


def test_a_clock_that_steps_back_refills_nothing() -> None:
    policy = Admission(max_active=10, per_minute=1)
    assert policy.admit("a", "p", 100.0) is None
    assert policy.admit("a", "p", 50.0) == RATE_LIMITED


def _run(project: str, state: RunState, updated_at: float) -> RunInfo:
    return RunInfo(
        run_id=f"{project}-{state}-{updated_at}",
        project=project,
        state=state,
        created_at=0.0,
        updated_at=updated_at,
    )


def test_only_running_runs_hold_a_slot() -> None:
    runs = [
        _run("p", RunState.RUNNING, 95.0),
        _run("p", RunState.RUNNING, 10.0),  # silent past the heartbeat timeout: crashed
        _run("p", RunState.FINISHED, 99.0),
        _run("q", RunState.RUNNING, 99.0),
        _run("q", RunState.FAILED, 99.0),
    ]
    assert running_by_project(runs, now=100.0, timeout=60.0) == {"p": 1, "q": 1}


def test_limit_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_ACTIVE_RUNS", "NEW_RUNS_PER_MINUTE", "EMPTY_RUN_TTL"):
        monkeypatch.delenv(f"SPECTRAL_EDGE_{name}", raising=False)
    settings = AnalyzerSettings()
    assert (settings.max_active_runs, settings.new_runs_per_minute) == (1000, 120)
    assert settings.empty_run_ttl == 3600.0
    monkeypatch.setenv("SPECTRAL_EDGE_MAX_ACTIVE_RUNS", "50")
    monkeypatch.setenv("SPECTRAL_EDGE_NEW_RUNS_PER_MINUTE", "6")
    monkeypatch.setenv("SPECTRAL_EDGE_EMPTY_RUN_TTL", "90.5")
    settings = AnalyzerSettings()
    assert (settings.max_active_runs, settings.new_runs_per_minute) == (50, 6)
    assert settings.empty_run_ttl == 90.5
    assert AnalyzerSettings(max_active_runs=7).max_active_runs == 7  # arguments win


@pytest.mark.parametrize(
    "bad",
    [
        {"max_active_runs": 0},
        {"new_runs_per_minute": 0},
        {"new_runs_per_minute": -5},
        {"empty_run_ttl": 0},
        {"empty_run_ttl": "soon"},
    ],
)
def test_invalid_limits_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        AnalyzerSettings.model_validate(bad)
