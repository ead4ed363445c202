"""The statistics of the "Real or fake?" game: exact intervals, and "too few answers" at small n."""

from __future__ import annotations

import sqlite3

import pytest
from flask import Flask

from ganforge.web import game


def results_of(tmp_path, rounds: list[tuple[str, str]]) -> dict:
    """``results_for`` over a game database holding ``rounds`` (truth, answer) of one run."""
    app = Flask(__name__)
    app.config["GAME_DB"] = str(tmp_path / "game.sqlite")
    game.init_app(app)
    with sqlite3.connect(app.config["GAME_DB"]) as db:
        db.executemany("INSERT INTO rounds (id, run, truth, source, player, created, answer, response_ms) "
                       "VALUES (?, 'r', ?, 0, 'p', 0, ?, 500)",
                       [(f"id{i}", truth, answer) for i, (truth, answer) in enumerate(rounds)])
    with app.app_context():
        return game.results_for("r")


def test_four_of_four_is_too_few_answers_with_an_honest_interval(tmp_path):
    res = results_of(tmp_path, [("fake", "real")] * 4)
    fool = res["fool_rate"]
    assert fool["value"] == 1.0 and fool["n"] == 4
    # 4 of 4 does not make the rate certain: the exact 95 % interval reaches down to 0.40 (not [1, 1]).
    assert fool["ci95"][0] == pytest.approx(0.3976, abs=1e-4) and fool["ci95"][1] == 1.0
    assert fool["too_few"] and game.MIN_ANSWERS > 4
    assert res["real_accuracy"] == {"value": None, "ci95": None, "n": 0, "too_few": True}


def test_enough_answers_give_the_exact_interval(tmp_path):
    rounds = [("fake", "real")] * 3 + [("fake", "fake")] * 7 + [("real", "real")] * 10
    res = results_of(tmp_path, rounds)
    assert res["fool_rate"]["n"] == 10 and not res["fool_rate"]["too_few"]
    lo, hi = res["fool_rate"]["ci95"]
    assert lo == pytest.approx(0.0667, abs=1e-4) and hi == pytest.approx(0.6525, abs=1e-4)  # 3 of 10
    assert res["hype_inf"]["value"] == pytest.approx(3 / 20) and not res["hype_inf"]["too_few"]  # the 3 fooled


def test_staircase_shortens_after_three_right_and_lengthens_after_one_wrong():
    start, step = game.EXPOSURE_START_MS, game.EXPOSURE_STEP_MS
    assert game.next_exposure_ms([]) == start
    assert game.next_exposure_ms([True, True]) == start
    assert game.next_exposure_ms([True, True, True]) == start - step
    assert game.next_exposure_ms([True, True, False]) == start + step
    assert game.next_exposure_ms([True] * 300) == game.EXPOSURE_MIN_MS
    assert game.next_exposure_ms([False] * 300) == game.EXPOSURE_MAX_MS


def test_an_old_database_gains_the_new_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(game.SCHEMA)  # as the first release made it: no mode, no exposure_ms
        db.execute("INSERT INTO rounds (id, run, truth, source, player, created, answer) "
                   "VALUES ('a', 'r', 'fake', 3, 'p', 0, 'real')")
    app = Flask(__name__)
    app.config["GAME_DB"] = str(path)
    app.register_blueprint(game.bp)
    game.init_app(app)
    game.init_app(app)  # twice: adding is idempotent
    with app.test_request_context(), app.app_context():
        res = game.results_for("r")
        assert res["hype_inf"]["n"] == 1 and res["hype_time"] == {"value_ms": None, "players": 0, "rounds": 0}
        assert [(i["truth"], i["source"], i["realness"]) for i in game.images_for("r")] == [("fake", 3, 1.0)]
