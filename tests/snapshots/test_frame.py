import datetime as dt

import numpy as np
import pandas as pd
import pytest

from propensity.errors import DataError
from propensity.project import Project
from tests.conftest import random_shop, shop_spec, shop_tables


def build(root):
    result = Project.load(root).build()
    frame = pd.read_parquet(result.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    return result, frame


def row(frame, customer, cutoff):
    hit = frame[(frame.customer_id == customer) & (frame.cutoff == pd.Timestamp(cutoff))]
    assert len(hit) == 1
    return hit.iloc[0]


def test_frame_columns_and_hand_computed_features(make_project):
    root = make_project(
        shop_spec(cutoffs={"start": "2024-02-01", "every": "1mo", "end": "2024-04-01"}),
        shop_tables(),
    )
    result, frame = build(root)
    assert list(frame.columns[:3]) == ["customer_id", "cutoff", "label"]
    assert "email" not in frame.columns  # PII is never a feature
    assert "signup_date" not in frame.columns
    # customer 3 signs up on 2024-03-15: not in the population before that
    assert sorted(map(tuple, frame[["customer_id", "cutoff"]].astype(str).to_numpy())) == [
        ("1", "2024-02-01"),
        ("1", "2024-03-01"),
        ("1", "2024-04-01"),
        ("2", "2024-02-01"),
        ("2", "2024-03-01"),
        ("2", "2024-04-01"),
        ("3", "2024-04-01"),
    ]
    r = row(frame, 1, "2024-03-01")
    # orders in [2024-01-31, 2024-03-01): 2024-02-01 (20) and 2024-02-28 23:00 (30)
    assert r.orders_count_30d == 2
    assert r.orders_active_days_30d == 2
    assert r.orders_amount_sum_30d == 50.0
    assert r.orders_amount_mean_30d == 25.0
    assert r.orders_amount_max_30d == 30.0
    assert r.orders_channel_web_count_30d == 1
    assert r.orders_channel_app_share_30d == 0.5
    assert r.orders_count_trend_30d == 2.0  # 2 orders now, 1 in [2024-01-01, 2024-01-31)
    assert r.orders_days_since_last == 2
    assert r.orders_days_since_first == 56
    assert r.orders_mean_gap_days == 27.0  # (2024-02-28 - 2024-01-05) / 2
    assert r.orders_last_gap_days == 27.0
    assert r.orders_count_all == 3
    assert r.orders_active_days_all == 3
    assert r.tenure_days == 60
    assert r.plan == "a"
    assert r.label == 1  # no order in [2024-03-01, 2024-03-31)
    # an order stamped exactly at the cutoff counts for the label, not the features
    r2 = row(frame, 2, "2024-03-01")
    assert r2.orders_count_30d == 0
    assert r2.label == 0
    # the last cutoff's window ends after the data (2024-04-10): no label
    assert frame[frame.cutoff == pd.Timestamp("2024-04-01")].label.isna().all()
    assert [c["labeled"] for c in result.per_cutoff] == [2, 2, 0]


def test_default_end_is_the_last_fully_observed_cutoff(make_project):
    root = make_project(shop_spec(), shop_tables())
    _, frame = build(root)
    # data ends 2024-04-10, horizon 30d: 2024-03-01 + 30d <= 2024-04-10 < 2024-04-01 + 30d
    assert sorted(frame.cutoff.dt.date.unique()) == [dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
    assert frame.label.notna().all()


def test_event_and_amount_targets(make_project):
    tables = shop_tables()
    spec = shop_spec(
        target={"kind": "event", "source": "orders", "horizon": "30d", "where": "channel == 'app'"},
        cutoffs={"start": "2024-02-01", "every": "1mo", "end": "2024-03-01"},
    )
    _, frame = build(make_project(spec, tables))
    # app orders: 2024-02-01 (customer 1), 2024-03-20 (customer 3), 2024-04-10 (customer 1)
    assert row(frame, 1, "2024-02-01").label == 1
    assert row(frame, 2, "2024-02-01").label == 0
    assert row(frame, 1, "2024-03-01").label == 0
    spec = shop_spec(
        target={"kind": "amount", "source": "orders", "horizon": "30d", "measure": "amount"},
        cutoffs={"start": "2024-02-01", "every": "1mo", "end": "2024-03-01"},
    )
    _, frame = build(make_project(spec, tables))
    assert row(frame, 1, "2024-02-01").label == 50.0  # 20 + 30 in [02-01, 03-02)
    assert row(frame, 2, "2024-03-01").label == 7.0
    assert row(frame, 1, "2024-03-01").label == 0.0


def test_population_without_entity_time_uses_any_past_event(make_project):
    tables = shop_tables()
    spec = shop_spec(population={})
    spec["sources"]["customers"].pop("time")
    spec["cutoffs"] = {"start": "2024-01-10", "every": "1mo", "end": "2024-03-10"}
    _, frame = build(make_project(spec, tables))
    # on 2024-01-10 only customer 1 has ordered; customer 2 first orders 2024-01-15
    assert sorted(frame[frame.cutoff == pd.Timestamp("2024-01-10")].customer_id) == [1]
    assert "tenure_days" not in frame.columns


def test_no_labelled_cutoff_is_a_clear_error(make_project):
    spec = shop_spec(cutoffs={"start": "2024-04-01", "every": "1mo"})
    with pytest.raises(DataError, match=r"no cutoff from 2024-04-01 to 2024-03-11.*start earlier"):
        build(make_project(spec, shop_tables()))


def test_a_failed_build_leaves_no_partial_frame(make_project):
    root = make_project(shop_spec(), shop_tables())
    project = Project.load(root)
    project.build()
    before = project.frame_path.read_bytes()
    (root / "data" / "orders.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(Exception, match="orders"):
        project.build()
    assert project.frame_path.read_bytes() == before
    leftovers = [p.name for p in project.frame_path.parent.iterdir()]
    assert sorted(leftovers) == ["frame.json", "frame.parquet"]


def test_manifest_describes_the_frame(make_project):
    import json

    root = make_project(shop_spec(), shop_tables())
    result, frame = build(root)
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["spec_hash"] == Project.load(root).spec.spec_hash()
    assert set(manifest["inputs"]) == {"customers", "orders"}
    assert all(len(v["sha256"]) == 64 for v in manifest["inputs"].values())
    assert manifest["rows"] == len(frame)
    assert [f["name"] for f in manifest["features"]] == list(frame.columns[3:])
    assert manifest["per_cutoff"][0] == {
        "cutoff": "2024-02-01",
        "rows": 2,
        "labeled": 2,
        "label_rate": 0.0,
    }


# -- an independent oracle: the same features computed the slow, obvious way -------------


def oracle(customers, orders, cutoffs, window, horizon, active):
    rows = []
    for c in cutoffs:
        t = pd.Timestamp(c)
        for cid, signup in zip(customers.customer_id, customers.signup_date, strict=True):
            if pd.Timestamp(signup) >= t:
                continue
            mine = orders[orders.customer_id == cid]
            day = mine.order_time.dt.floor("D")
            past = mine[day < t]
            if not (day[day < t] >= t - pd.Timedelta(days=active)).any():
                continue
            win = past[past.order_time.dt.floor("D") >= t - pd.Timedelta(days=window)]
            future = mine[(day >= t) & (day < t + pd.Timedelta(days=horizon))]
            last = past.order_time.dt.floor("D").max()
            rows.append(
                {
                    "customer_id": cid,
                    "cutoff": t,
                    "label": int(len(future) == 0),
                    "count": len(win),
                    "days": win.order_time.dt.floor("D").nunique(),
                    "sum": win.amount.sum(),
                    "max": win.amount.max() if len(win) else np.nan,
                    "since_last": (t - last).days,
                }
            )
    return pd.DataFrame(rows)


def test_frame_matches_an_independent_pandas_computation(make_project):
    tables = random_shop(3, 40, 600)
    customers, orders = tables["customers.csv"], tables["orders.parquet"]
    spec = shop_spec(
        features={"windows": ["45d"]},
        target={"kind": "inactivity", "source": "orders", "horizon": "60d"},
        population={"active_within": "120d"},
        cutoffs={"start": "2023-03-01", "every": "6w", "end": "2024-06-01"},
    )
    _, frame = build(make_project(spec, tables))
    frame = frame[frame.label.notna()]
    cuts = sorted(frame.cutoff.unique())
    expected = oracle(customers, orders, cuts, 45, 60, 120)
    assert len(expected) > 100
    got = frame.merge(expected, on=["customer_id", "cutoff"], how="outer", indicator=True)
    assert (got._merge == "both").all()
    assert (got.label_x == got.label_y).all()
    assert (got.orders_count_45d == got["count"]).all()
    assert (got.orders_active_days_45d == got["days"]).all()
    np.testing.assert_allclose(got.orders_amount_sum_45d, got["sum"])
    np.testing.assert_allclose(got.orders_amount_max_45d, got["max"])
    assert (got.orders_days_since_last == got.since_last).all()


def test_category_levels_that_read_alike_get_distinct_names(make_project):
    tables = shop_tables()
    tables["orders.parquet"]["channel"] = ["A-B", "a b", "A-B", "a b", "x", "x", "x"]
    _, frame = build(make_project(shop_spec(), tables))
    names = [c for c in frame.columns if c.startswith("orders_channel_") and "count" in c]
    assert sorted(names) == [
        "orders_channel_a_b_2_count_30d",
        "orders_channel_a_b_count_30d",
        "orders_channel_x_count_30d",
    ]


def test_entity_dates_become_days_since_and_are_hidden_until_they_happen(make_project):
    tables = shop_tables()
    tables["customers.csv"]["closed_on"] = ["2024-02-15", None, "2024-05-01"]
    spec = shop_spec(cutoffs={"start": "2024-02-01", "every": "1mo", "end": "2024-04-01"})
    _, frame = build(make_project(spec, tables))
    assert "closed_on" not in frame.columns
    assert pd.isna(row(frame, 1, "2024-02-01").days_since_closed_on)  # not happened yet
    assert row(frame, 1, "2024-03-01").days_since_closed_on == 15
    assert pd.isna(row(frame, 2, "2024-03-01").days_since_closed_on)
    assert pd.isna(row(frame, 3, "2024-04-01").days_since_closed_on)


def test_build_reports_each_step(make_project):
    project = Project.load(make_project(shop_spec(), shop_tables()))
    steps = []
    project.build(steps.append)
    assert len(steps) == project.build_steps
    assert "features of orders" in steps


def test_training_reads_the_same_rows_in_the_same_order_each_build_and_a_stale_frame_is_seen(
    tmp_path,
):
    import datetime as dt

    from propensity.demo.project import init_project
    from propensity.snapshots.reading import read_frame

    root = tmp_path / "shop"
    init_project(root, demo=True, customers=2500, seed=3, until=dt.date(2025, 3, 1))
    project = Project.load(root)
    assert project.stale_frame() == "no frame yet"
    frames = []
    for _ in range(2):
        project.build()
        frames.append(read_frame(project.frame_path, "customer_id"))
    # the engine's parallel plan writes the rows in any order; training reads them sorted
    # (tree learners bin and split on row order: the same data must give the same model)
    pd.testing.assert_frame_equal(*frames)
    order = frames[0][["cutoff", "customer_id"]]
    assert order.equals(order.sort_values(["cutoff", "customer_id"]))
    one = read_frame(project.frame_path, "customer_id", cutoff=dt.date(2024, 12, 1))
    assert (one["cutoff"] == pd.Timestamp("2024-12-01")).all()
    assert one["customer_id"].is_monotonic_increasing
    assert project.stale_frame() is None
    # the same bytes written again are no change; new rows are
    orders = root / "data" / "orders.parquet"
    orders.write_bytes(orders.read_bytes())
    assert project.stale_frame() is None
    init_project(root, demo=True, customers=2500, seed=3, until=dt.date(2025, 4, 1), data_only=True)
    customers = root / "data" / "customers.csv"
    assert (
        project.stale_frame() == f"sources.customers: {customers} changed since the frame was built"
    )
    spec = root / "propensity.toml"
    spec.write_text(spec.read_text().replace('"30d", ', ""))
    assert Project.load(root).stale_frame() == "the spec's frame sections changed"


def test_the_planner_says_what_every_feature_means(make_project):
    from propensity.decisions.reasons import describe, label
    from propensity.snapshots.manifest import FrameManifest

    tables = shop_tables()
    tables["orders.parquet"]["channel"] = ["Gift Card", "a b", "Gift Card", "a b", "x", "x", "x"]
    root = make_project(shop_spec(), tables)
    result, frame = build(root)
    manifest = FrameManifest.read(result.manifest_path)
    info = manifest.feature_info()
    assert list(info) == list(frame.columns[3:])  # every feature, none invented
    share = info["orders_channel_gift_card_share_30d"]
    assert (share.family, share.source, share.category, share.level, share.window) == (
        "level_share",
        "orders",
        "channel",
        "Gift Card",  # as the data spells it, not as the name slugs it
        "30d",
    )
    assert info["orders_days_since_last"].family == "days_since_last"
    assert {i.family for i in info.values()} >= {"count", "sum", "mean", "max", "level_count"}
    for name, found in info.items():
        if found.window is not None:
            assert name.endswith(f"_{found.window}")  # the name agrees with the info
    spec = Project.load(root).spec
    # reasons read the info, so the level reads as the data spells it
    assert "channel = Gift Card" in label("orders_channel_gift_card_share_30d", spec, info)
    assert describe("orders_channel_gift_card_count_30d", 2, 1, spec, info).startswith(
        "2 orders with channel = Gift Card in the last 30 days"
    )
    # a name without an info (a bundle from before 0.2) is still read from the spec
    assert "channel = gift_card" in label("orders_channel_gift_card_share_30d", spec)
