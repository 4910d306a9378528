"""Calendar features of a cutoff: what they are, the spec keys that ask for them, and engines."""

import datetime as dt
import importlib.util
import json
import math
import shutil

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from propensity.engine import Engine
from propensity.errors import SpecError
from propensity.project import Project
from propensity.serving.model import fill_calendar
from propensity.snapshots.calendar import (
    HOLIDAY_FEATURES,
    SEASON_FEATURES,
    calendar_features,
    calendar_on,
    calendar_values,
)
from propensity.snapshots.cutoffs import day_number
from propensity.snapshots.features import FeatureInfo
from propensity.spec import EngineSection, FeaturesSection, Spec
from tests.conftest import shop_spec

ALL = [*SEASON_FEATURES, *HOLIDAY_FEATURES]


@pytest.fixture(scope="module")
def duck():
    engine = Engine(EngineSection(threads=1))
    yield engine
    engine.close()


def computed(engine, cutoffs, *, season=True, holidays=()):
    """The features the expressions give at each cutoff, one row per cutoff, in order."""
    table = engine.register_arrow(
        pa.table(
            {
                "i": pa.array(range(len(cutoffs)), pa.int64()),
                "__o": pa.array([day_number(c) for c in cutoffs], pa.int64()),
            }
        ),
        "__cal",
    )
    exprs, info = calendar_features(table["__o"], season=season, holidays=holidays)
    frame = engine.to_pandas(table.mutate(**exprs).order_by("i"))
    return frame[list(exprs)], info


def ibis_day():
    return ibis.table({"__o": "int64"}, name="t")["__o"]


def by_hand(cutoff, holidays):
    """The same features in plain Python, from the cutoff date alone."""
    angle = 2 * math.pi * (cutoff.month - 1) / 12
    ahead = [(h - cutoff).days for h in holidays if h >= cutoff]
    behind = [(cutoff - h).days for h in holidays if h < cutoff]
    return {
        "cutoff_month": cutoff.month,
        "cutoff_quarter": (cutoff.month - 1) // 3 + 1,
        "cutoff_day_of_year": cutoff.timetuple().tm_yday,
        "cutoff_month_sin": math.sin(angle),
        "cutoff_month_cos": math.cos(angle),
        "days_to_next_holiday": min(ahead) if ahead else None,
        "days_since_last_holiday": min(behind) if behind else None,
    }


def same(got, want):
    if want is None:
        return pd.isna(got)
    if isinstance(want, float):
        return math.isclose(got, want, abs_tol=1e-12)
    return got == want


# -- the values ------------------------------------------------------------------------------

XMAS = [dt.date(2023, 12, 25), dt.date(2024, 12, 25)]


def test_known_days(duck):
    cutoffs = [dt.date(2024, 2, 29), dt.date(2024, 12, 31), dt.date(2023, 12, 31)]
    frame, _ = computed(duck, cutoffs, holidays=XMAS)
    assert frame["cutoff_month"].tolist() == [2, 12, 12]
    assert frame["cutoff_quarter"].tolist() == [1, 4, 4]
    assert frame["cutoff_day_of_year"].tolist() == [60, 366, 365]
    half = math.sqrt(3) / 2
    # February is a twelfth of the way round, December one twelfth short of it
    assert frame["cutoff_month_sin"].tolist() == pytest.approx([0.5, -0.5, -0.5])
    assert frame["cutoff_month_cos"].tolist() == pytest.approx([half, half, half])
    assert frame["days_since_last_holiday"].tolist() == [66, 6, 6]
    assert frame["days_to_next_holiday"].iloc[[0, 2]].tolist() == [300, 360]
    assert pd.isna(frame["days_to_next_holiday"].iloc[1])  # nothing listed after it


def test_a_holiday_is_zero_days_ahead_on_its_day_and_one_day_behind_the_day_after(duck):
    cutoffs = [dt.date(2024, 12, 24), dt.date(2024, 12, 25), dt.date(2024, 12, 26)]
    frame, _ = computed(duck, cutoffs, season=False, holidays=XMAS)
    assert list(frame.columns) == list(HOLIDAY_FEATURES)
    assert frame["days_to_next_holiday"].tolist()[:2] == [1, 0]
    assert pd.isna(frame["days_to_next_holiday"].iloc[2])
    assert frame["days_since_last_holiday"].tolist() == [365, 366, 1]


def test_season_alone_and_nothing(duck):
    cutoffs = [dt.date(2024, 7, 1)]
    frame, _ = computed(duck, cutoffs)
    assert list(frame.columns) == list(SEASON_FEATURES)
    assert frame.iloc[0]["cutoff_month_cos"] == pytest.approx(-1.0)
    assert calendar_features(ibis_day(), season=False) == ({}, {})


def test_each_feature_says_what_it_is():
    _, info = calendar_features(ibis_day(), holidays=XMAS)
    assert list(info) == ALL
    assert {i.family for i in info.values()} == {"calendar"}
    assert info["cutoff_month"] == FeatureInfo(
        name="cutoff_month", family="calendar", column="month"
    )
    assert info["days_to_next_holiday"].column == "days_to_next_holiday"
    # the infos survive a manifest round trip
    assert all(FeatureInfo.model_validate(i.to_json()) == i for i in info.values())


cutoff_days = st.dates(dt.date(1950, 1, 1), dt.date(2150, 12, 31))

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


@SETTINGS
@given(
    cutoffs=st.lists(cutoff_days, min_size=1, max_size=30),
    holidays=st.lists(cutoff_days, max_size=12),
)
def test_every_value_is_the_calendar_of_the_cutoff_alone(duck, cutoffs, holidays):
    """Point in time by construction: each value follows from the cutoff date and the list."""
    frame, _ = computed(duck, cutoffs, holidays=holidays)
    expected = [by_hand(c, holidays) for c in cutoffs]
    wanted = ALL if holidays else list(SEASON_FEATURES)
    assert list(frame.columns) == wanted
    for row, want in zip(frame.to_dict("records"), expected, strict=True):
        for name in wanted:
            assert same(row[name], want[name]), (name, row, want)

    # the service fills what a record leaves out with the same values, in plain Python
    for cutoff, row in zip(cutoffs, frame.to_dict("records"), strict=True):
        plain = calendar_values(cutoff, sorted(set(holidays)))
        for name in wanted:
            assert same(row[name], plain[name]), (name, cutoff)


def test_the_service_fills_only_what_a_record_leaves_out():
    day = dt.date(2024, 12, 1)
    names = ["cutoff_month", "days_to_next_holiday"]
    records = [
        {"customer_id": 1},
        {"customer_id": 2, "cutoff_month": 7, "days_to_next_holiday": None},
        {"customer_id": 3, "cutoff_month": 5, "days_to_next_holiday": 3},
    ]
    filled = fill_calendar(records, names, day, [dt.date(2024, 12, 25)])
    assert filled[0] == {"customer_id": 1, "cutoff_month": 12, "days_to_next_holiday": 24}
    assert filled[1] == {"customer_id": 2, "cutoff_month": 7, "days_to_next_holiday": 24}
    assert filled[2] is records[2]  # nothing left out: the record as sent
    assert records[0] == {"customer_id": 1}  # the request's records are not changed


# -- the switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "last", "on"),
    [
        ("auto", dt.date(2025, 1, 1), True),  # 366 days later
        ("auto", dt.date(2024, 12, 31), False),  # 365 days: a year, not more
        ("auto", dt.date(2024, 4, 30), False),
        (True, dt.date(2024, 4, 30), True),
        (False, dt.date(2030, 1, 1), False),
    ],
)
def test_calendar_on(value, last, on):
    assert calendar_on(value, dt.date(2024, 1, 1), last) is on


# -- the spec keys ---------------------------------------------------------------------------


def test_defaults():
    features = FeaturesSection()
    assert features.calendar == "auto"
    assert features.holidays == []


def test_holidays_are_dates_sorted_once_each():
    features = FeaturesSection(holidays=["2024-12-25", dt.date(2023, 12, 25), "2024-12-25"])
    assert features.holidays == XMAS
    assert features.model_dump(mode="json")["holidays"] == ["2023-12-25", "2024-12-25"]
    assert Spec.from_dict(shop_spec(features={"calendar": False})).features.calendar is False


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (
            {"holidays": ["2024-12-25", "2024-13-01"]},
            r"features\.holidays: '2024-13-01' is not a date; write each holiday as an ISO "
            r'date, e.g. "2024-12-25"',
        ),
        ({"holidays": ["25/12/2024"]}, r"features\.holidays: '25/12/2024' is not a date"),
        ({"holidays": [20241225]}, r"features\.holidays: 20241225 is not a date"),
        (
            {"holidays": [dt.datetime(2024, 12, 25, 9)]},
            r"features\.holidays: datetime\.datetime\(2024, 12, 25, 9, 0\) is not a date",
        ),
        ({"holidays": "2024-12-25"}, r"features\.holidays: '2024-12-25' is not a list of dates"),
        (
            {"calendar": "sometimes"},
            r"features\.calendar: 'sometimes' is not allowed; write true, false or \"auto\"",
        ),
        ({"calendar": 1}, r"features\.calendar: 1 is not allowed"),
    ],
)
def test_bad_values_are_refused_by_name(features, message):
    with pytest.raises(SpecError, match=message):
        Spec.from_dict(shop_spec(features=features))


# -- Spark -----------------------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
    reason="needs the spark extra and Java",
)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_spark_computes_the_same_calendar(duck, tmp_path):
    cutoffs = [dt.date(1969, 12, 31), dt.date(2000, 2, 29), dt.date(2100, 3, 1)]
    cutoffs += [dt.date(2023, 1, 1) + dt.timedelta(days=n) for n in range(0, 800, 17)]
    holidays = [*XMAS, dt.date(2024, 4, 1)]
    spark = Engine(EngineSection(backend="pyspark", threads=1), tmp_path)
    try:
        got, _ = computed(spark, cutoffs, holidays=holidays)
    finally:
        spark.close()
    want, _ = computed(duck, cutoffs, holidays=holidays)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_build_adds_the_calendar_of_each_cutoff_and_says_what_it_is(make_project):
    tables = {
        "customers.csv": pd.DataFrame({"customer_id": [1, 2], "signup_date": ["2022-01-01"] * 2}),
        "orders.parquet": pd.DataFrame(
            {
                "customer_id": [1, 2, 1, 2],
                "order_time": pd.to_datetime(
                    ["2023-11-10", "2023-11-20", "2024-01-20", "2024-02-20"]
                ),
                "amount": [3.0, 4.0, 5.0, 6.0],
                "channel": ["web", "web", "app", "app"],
            }
        ),
    }
    holidays = ["2023-12-25", "2024-12-25"]
    spec = shop_spec(
        cutoffs={"start": "2023-12-01", "every": "1mo", "end": "2024-03-01"},
        features={"windows": ["30d"], "calendar": True, "holidays": holidays},
    )
    spec["sources"]["customers"].pop("pii")
    result = Project.load(make_project(spec, tables)).build()
    frame = pd.read_parquet(result.frame_path)
    assert set(ALL) <= set(frame.columns)
    for cutoff, row in frame.groupby("cutoff").first().iterrows():
        day = pd.Timestamp(cutoff).date()
        expected = by_hand(day, [dt.date.fromisoformat(h) for h in holidays])
        for name in ALL:
            assert same(row[name], expected[name]), (day, name)
    infos = {f["name"]: f["info"] for f in json.loads(result.manifest_path.read_text())["features"]}
    assert infos["cutoff_month"]["family"] == "calendar"
    assert infos["days_to_next_holiday"]["family"] == "calendar"
    # off: none of them
    spec["features"]["calendar"] = False
    spec["features"]["holidays"] = []
    off = pd.read_parquet(Project.load(make_project(spec, tables)).build().frame_path)
    assert not set(ALL) & set(off.columns)
