import datetime as dt
import tomllib

import pytest

from propensity.errors import SpecError
from propensity.spec import Duration, Spec, parse_duration
from tests.conftest import shop_spec, to_toml


def test_to_toml_round_trips_the_shop_spec():
    assert tomllib.loads(to_toml(shop_spec())) == shop_spec()


@pytest.mark.parametrize(
    ("text", "days", "unit"),
    [("90d", 90, "d"), ("12w", 84, "w"), ("1mo", 30, "mo"), ("3mo", 90, "mo"), ("1y", 365, "y")],
)
def test_durations_parse(text, days, unit):
    d = parse_duration(text)
    assert (d.days, d.unit, str(d)) == (days, unit, text)


@pytest.mark.parametrize(
    ("every", "start", "steps", "expected"),
    [
        ("1mo", dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        ("1mo", dt.date(2024, 1, 31), 13, dt.date(2025, 2, 28)),
        ("1y", dt.date(2024, 2, 29), 1, dt.date(2025, 2, 28)),
        ("2w", dt.date(2024, 1, 1), 3, dt.date(2024, 2, 12)),
        ("3mo", dt.date(2024, 11, 15), 1, dt.date(2025, 2, 15)),
    ],
)
def test_duration_steps_by_the_calendar(every, start, steps, expected):
    assert parse_duration(every).step(start, steps) == expected


def test_the_documented_error_for_a_bad_duration():
    spec = shop_spec()
    spec["target"]["horizon"] = "90 days"
    with pytest.raises(SpecError) as info:
        Spec.from_dict(spec)
    assert str(info.value) == (
        "propensity.toml: target.horizon: '90 days' is not a duration; write e.g. 90d, 12w, 3mo"
    )


@pytest.mark.parametrize("bad", ["0d", "90", "d90", "1.5mo", "12 weeks", 90])
def test_bad_durations_are_refused(bad):
    spec = shop_spec()
    spec["features"]["windows"] = ["30d", bad]
    with pytest.raises(SpecError, match=r"features\.windows\.1: .* is not a duration"):
        Spec.from_dict(spec)


def test_unknown_keys_are_refused_with_the_allowed_ones():
    spec = shop_spec()
    spec["sources"]["orders"]["measure"] = ["amount"]
    with pytest.raises(
        SpecError, match=r"sources\.orders\.measure: unknown key; allowed keys are: .*measures"
    ):
        Spec.from_dict(spec)
    spec = shop_spec(populaton={"active_within": "90d"})
    with pytest.raises(SpecError, match=r"populaton: unknown key; allowed keys are: backtest"):
        Spec.from_dict(spec)


def test_bad_literal_and_date_name_the_value_and_the_options():
    spec = shop_spec()
    spec["target"]["kind"] = "churn"
    with pytest.raises(SpecError, match=r"target\.kind: 'churn' is not allowed; .*'inactivity'"):
        Spec.from_dict(spec)
    spec = shop_spec()
    spec["cutoffs"]["start"] = "2024-13-01"
    with pytest.raises(SpecError, match=r"cutoffs\.start: '2024-13-01' is not allowed.*ISO date"):
        Spec.from_dict(spec)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["sources"]["orders"].pop("time"), "an events source needs `time`"),
        (lambda s: s["target"].update(kind="event"), "an event target needs `where`"),
        (lambda s: s["target"].update(kind="amount"), "an amount target needs `measure`"),
        (lambda s: s["target"].update(source="customers"), "'customers' is not an events source"),
        (lambda s: s.pop("target"), r"\[target\] is missing"),
        (lambda s: s.pop("cutoffs"), r"\[cutoffs\] is missing"),
        (lambda s: s["cutoffs"].update(end="2020-01-01"), "end 2020-01-01 is before start"),
        (lambda s: s["policy"].update(capacity=0), "policy.capacity: Input should be greater"),
        (
            lambda s: s["sources"]["customers"].update(measures=["x"]),
            "`measures` and `categories` belong to events sources",
        ),
        (
            lambda s: s.update(monitor={"rate_shift_warn": 0.5}),
            r"monitor: rate_shift_warn \(0.5\) is above rate_shift_alert \(0.3\)",
        ),
    ],
)
def test_combinations_are_validated(change, message):
    spec = shop_spec(policy={})
    change(spec)
    with pytest.raises(SpecError, match=message):
        Spec.from_dict(spec)


def test_a_full_spec_parses_with_every_section():
    spec = shop_spec(
        policy={
            "capacity": 500,
            "benefit": 120.0,
            "cost": 5.0,
            "tiers": {"high": {"at_least": 0.6, "action": "call within a week"}},
        },
        engine={"backend": "duckdb", "threads": 2},
        backtest={"folds": 3, "gap": "30d"},
        train={"tune_trials": 30},
    )
    parsed = Spec.from_dict(spec)
    assert parsed.target is not None
    assert parsed.target.horizon == Duration(30, "d")
    assert parsed.policy.tiers["high"].at_least == 0.6
    assert parsed.backtest.gap == Duration(30, "d")
    assert parsed.cutoffs is not None
    assert parsed.cutoffs.start == dt.date(2024, 2, 1)


def test_spec_hash_ignores_layout_but_not_meaning(tmp_path):
    a = Spec.from_dict(shop_spec())
    text = to_toml(shop_spec())
    (tmp_path / "propensity.toml").write_text("# a comment\n\n" + text)
    assert Spec.load(tmp_path).spec_hash() == a.spec_hash()
    changed = shop_spec()
    changed["target"]["horizon"] = "60d"
    assert Spec.from_dict(changed).spec_hash() != a.spec_hash()


def test_table_mode_must_be_alone():
    spec = shop_spec()
    spec["sources"]["t"] = {"path": "t.csv", "kind": "table", "label": "Churn"}
    with pytest.raises(SpecError, match="table source 't' must be the only source"):
        Spec.from_dict(spec)
    alone = {
        "project": {"name": "telco"},
        "entity": {"key": "customerID"},
        "sources": {"t": {"path": "t.csv", "kind": "table", "label": "Churn", "positive": "Yes"}},
    }
    assert Spec.from_dict(alone).table_mode


def test_load_names_the_file_on_bad_toml(tmp_path):
    (tmp_path / "propensity.toml").write_text("[project\nname='x'")
    with pytest.raises(SpecError, match=r"propensity\.toml: not valid TOML"):
        Spec.load(tmp_path)
    with pytest.raises(SpecError, match="no project file here"):
        Spec.load(tmp_path / "elsewhere")


def test_frame_hash_ignores_settings_that_do_not_change_the_frame(tmp_path):
    def load(**overrides):
        path = tmp_path / "propensity.toml"
        path.write_text(to_toml(shop_spec(**overrides)))
        return Spec.load(path)

    base = load()
    trained = load(train={"candidates": ["prior"], "tune_trials": 5}, backtest={"folds": 2})
    assert trained.frame_hash() == base.frame_hash()
    assert trained.spec_hash() != base.spec_hash()
    assert load(features={"windows": ["60d"]}).frame_hash() != base.frame_hash()
