"""Real or fake?: a human evaluation game with the HYPE-∞ protocol (Zhou et al. 2019).

One image at a time, real (from the run's data set) or generated with probability 1/2
each; the player answers "real" or "fake" and the answer is stored with its response
time in SQLite. Per run we report:

- ``fool_rate``: the share of generated images judged real (higher = more convincing G);
- ``hype_inf``: HYPE-∞ itself, the error rate over all judgements, real and fake
  (50 % = people cannot tell them apart);
- ``real_accuracy``: the share of real images judged real (a check on the players);

each with its exact 95 % confidence interval (Clopper–Pearson, ``metrics.intervals``) and the
count it rests on; below ``MIN_ANSWERS`` answers a rate is flagged as too few answers.

As the dogs thesis ran its human test, the report also gives **each shown image's realness**: the
share of players who called it real, with its thumbnail. For images to be judged by several
players, a game may draw from a fixed **pool** (``pool=N``: data-set images at N fixed indices and
latent seeds 0..N-1) instead of the whole data set and every seed.

**HYPE-time** (Zhou et al. 2019), selectable per game (``mode=time``): each image is shown only for
an exposure time that adapts to the player by a 3-down/1-up staircase (start 500 ms; 3 right answers
in a row shorten it by 50 ms, a wrong one lengthens it by 50 ms; 100-1000 ms), so it settles where the
player is right about 79 % of the time. A player's threshold is their mean exposure over their last
``THRESHOLD_ROUNDS`` rounds; the run's HYPE-time is the mean over players (higher = people need longer
to tell: a more convincing generator). This is a simplified staircase (the paper's schedule and its
bootstrap intervals are not reproduced); HYPE-∞ counts only rounds with unlimited exposure.

The truth is kept on the server: a round's image URL carries only the round id, and the
truth is revealed only in the answer's reply. A round can be answered once. Nothing about
the image tells the truth either: dealing a round makes both a real and a generated image
whatever the truth (so dealing takes the same time), the one shown is stored as an
uncompressed PNG (the same byte count for both kinds) in one cache, and the image request
serves it from there, the same path for both kinds.
"""

from __future__ import annotations

import csv
import io
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict

import numpy as np
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from ganforge.metrics.intervals import clopper_pearson
from ganforge.sampling import generate, labels_for_seeds, latents_for_seeds
from ganforge.web.generators import get_generator, get_real_images, png_bytes, run_dir, run_names
from ganforge.web.openapi import PNG, api, binary, component, integer, json_content, number, obj, string
from ganforge.web.params import choice_arg, int_arg, json_body
from ganforge.web.shared import run_summary

bp = Blueprint("game", __name__)

PLAYER_COOKIE = "ganforge_player"
# Below this many answers a rate is "too few answers": even the exact interval of 5 of 10 spans
# 19-81 %, so a number alone would read as a finding.
MIN_ANSWERS = 10
MAX_RESPONSE_MS = 10 * 60 * 1000  # a longer "response time" is someone who walked away: stored as unknown
MAX_ROUND_IMAGES = 256  # dealt rounds whose image is kept ready (older ones are made again when asked)
MODES = ("inf", "time")  # HYPE-infinity (unlimited exposure) or HYPE-time (adaptive exposure)
EXPOSURE_START_MS, EXPOSURE_STEP_MS, EXPOSURE_MIN_MS, EXPOSURE_MAX_MS = 500, 50, 100, 1000
THRESHOLD_ROUNDS = 10
MAX_POOL = 10_000
# Columns added after the first release: added to an existing database on start.
ADDED_COLUMNS = {"mode": "TEXT NOT NULL DEFAULT 'inf'", "exposure_ms": "INTEGER"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (
    id         TEXT PRIMARY KEY,
    run        TEXT NOT NULL,
    truth      TEXT NOT NULL CHECK (truth IN ('real', 'fake')),
    source     INTEGER NOT NULL,          -- data-set index (real) or latent seed (fake)
    player     TEXT NOT NULL,
    created    REAL NOT NULL,             -- unix time the round was dealt
    answer     TEXT CHECK (answer IN ('real', 'fake')),
    response_ms INTEGER,                  -- measured in the browser from image shown to click
    server_ms  INTEGER,                   -- dealt to answered, measured on the server
    answered   REAL
);
CREATE INDEX IF NOT EXISTS rounds_run ON rounds (run, answer);
"""


RATE = component("Rate", obj({
    "value": {"type": ["number", "null"]}, "ci95": {"type": ["array", "null"], "items": {"type": "number"},
                                                    "description": "exact 95 % interval (Clopper-Pearson)"},
    "n": integer(0), "too_few": {"type": "boolean"}}, ("value", "ci95", "n", "too_few")))
HYPE_TIME = obj({"value_ms": {"type": ["number", "null"], "description": "mean over players of their threshold"},
                 "players": integer(0), "rounds": integer(0)}, ("value_ms", "players", "rounds"))
RESULTS = component("GameResults", obj({
    "run": string(), "judgements": integer(0, description="answered rounds of unlimited exposure (mode inf)"),
    "players": integer(0), "fool_rate": RATE, "hype_inf": RATE, "real_accuracy": RATE,
    "median_response_ms": {"type": ["number", "null"]}, "hype_time": HYPE_TIME},
    ("run", "judgements", "players", "fool_rate", "hype_inf", "real_accuracy", "hype_time")))
SHOWN_IMAGE = obj({"truth": string(enum=["real", "fake"]), "source": integer(0), "n": integer(1),
                   "realness": number(0.0, 1.0, description="the share of answers that called it real"),
                   "image_url": string()}, ("truth", "source", "n", "realness", "image_url"))


def init_app(app: Flask) -> None:
    with sqlite3.connect(app.config["GAME_DB"]) as db:
        db.execute("PRAGMA journal_mode=WAL")  # readers (results page) do not block the players
        db.executescript(SCHEMA)
        have = {row[1] for row in db.execute("PRAGMA table_info(rounds)")}
        for column, kind in ADDED_COLUMNS.items():
            if column not in have:
                db.execute(f"ALTER TABLE rounds ADD COLUMN {column} {kind}")
    app.teardown_appcontext(_close_db)
    app.extensions["ganforge.round_images"] = OrderedDict()
    app.extensions["ganforge.round_images.lock"] = threading.Lock()


def db() -> sqlite3.Connection:
    if "game_db" not in g:
        g.game_db = sqlite3.connect(current_app.config["GAME_DB"], timeout=10)
        g.game_db.row_factory = sqlite3.Row
    return g.game_db


def _close_db(exc) -> None:
    conn = g.pop("game_db", None)
    if conn is not None:
        conn.close()


# ---- statistics --------------------------------------------------------------------------
def _rate(outcomes: np.ndarray) -> dict:
    """The share of 1s in 0/1 ``outcomes`` (N,), its exact 95 % interval and whether N is too few."""
    n = len(outcomes)
    ci = clopper_pearson(int(outcomes.sum()), n)
    return {"value": float(outcomes.mean()) if n else None, "ci95": list(ci) if ci else None, "n": n,
            "too_few": n < MIN_ANSWERS}


def next_exposure_ms(correct: list[bool]) -> int:
    """The exposure after a player's answers ``correct`` (in order) by the 3-down/1-up staircase."""
    exposure, streak = EXPOSURE_START_MS, 0
    for right in correct:
        streak = streak + 1 if right else 0
        if not right:
            exposure = min(exposure + EXPOSURE_STEP_MS, EXPOSURE_MAX_MS)
        elif streak == 3:
            exposure, streak = max(exposure - EXPOSURE_STEP_MS, EXPOSURE_MIN_MS), 0
    return exposure


def _time_rounds(run: str, player: str | None = None) -> list[sqlite3.Row]:
    query = ("SELECT player, truth, answer, exposure_ms FROM rounds WHERE run = ? AND mode = 'time' "
             "AND answer IS NOT NULL" + (" AND player = ?" if player else "") + " ORDER BY answered")
    return db().execute(query, (run, player) if player else (run,)).fetchall()


def hype_time(run: str) -> dict:
    """HYPE-time of ``run``: the mean over players of their mean exposure over their last rounds."""
    by_player: dict[str, list[int]] = {}
    for row in _time_rounds(run):
        by_player.setdefault(row["player"], []).append(row["exposure_ms"])
    thresholds = [float(np.mean(v[-THRESHOLD_ROUNDS:])) for v in by_player.values()]
    return {"value_ms": float(np.mean(thresholds)) if thresholds else None, "players": len(thresholds),
            "rounds": sum(map(len, by_player.values()))}


def images_for(run: str) -> list[dict]:
    """Each shown image's realness: how many answered it and the share who called it real, most real first."""
    rows = db().execute(
        "SELECT truth, source, COUNT(*) AS n, SUM(answer = 'real') AS called_real FROM rounds "
        "WHERE run = ? AND answer IS NOT NULL GROUP BY truth, source "
        "ORDER BY CAST(called_real AS REAL) / n DESC, n DESC, truth, source", (run,)).fetchall()
    return [{"truth": r["truth"], "source": r["source"], "n": r["n"], "realness": r["called_real"] / r["n"],
             "image_url": url_for("game.shown_image", name=run, truth=r["truth"], source=r["source"])}
            for r in rows]


def results_for(run: str) -> dict:
    rows = db().execute("SELECT truth, answer, response_ms FROM rounds WHERE run = ? AND answer IS NOT NULL "
                        "AND mode = 'inf'", (run,)).fetchall()
    truth = np.array([r["truth"] for r in rows])
    answer = np.array([r["answer"] for r in rows])
    fake, real = truth == "fake", truth == "real"
    times = [r["response_ms"] for r in rows if r["response_ms"] is not None]
    return {
        "run": run,
        "judgements": len(rows),
        "players": db().execute("SELECT COUNT(DISTINCT player) FROM rounds WHERE run = ? AND answer IS NOT NULL",
                                (run,)).fetchone()[0],
        "fool_rate": _rate((answer[fake] == "real").astype(float)),
        "hype_inf": _rate((answer != truth).astype(float)),
        "real_accuracy": _rate((answer[real] == "real").astype(float)),
        "median_response_ms": float(np.median(times)) if times else None,
        "hype_time": hype_time(run),
    }


# ---- rounds ------------------------------------------------------------------------------
def _player() -> str:
    player = request.cookies.get(PLAYER_COOKIE, "")
    return player if len(player) == 16 and player.isalnum() else secrets.token_hex(8)


def _round(round_id: str) -> sqlite3.Row:
    row = db().execute("SELECT * FROM rounds WHERE id = ?", (round_id,)).fetchone()
    if row is None or row["run"] not in run_names():
        abort(404, description="no such round")
    return row


def _round_png(run: str, truth: str, source: int) -> bytes:
    """The round's image as PNG bytes; a real and a generated image are made whatever the truth."""
    images = get_real_images(run)
    real = np.asarray(images[source % len(images)])
    G, cfg = get_generator(run)
    fake = generate(G, latents_for_seeds([source], cfg.latent_dim), labels_for_seeds([source], cfg.num_classes))[0]
    # Stored (no zlib compression): a real image would otherwise compress to another size than a fake.
    return png_bytes(real if truth == "real" else fake, compress_level=0)


def _keep_round_png(round_id: str, data: bytes) -> None:
    cache = current_app.extensions["ganforge.round_images"]
    with current_app.extensions["ganforge.round_images.lock"]:
        cache[round_id] = data
        while len(cache) > MAX_ROUND_IMAGES:
            cache.popitem(last=False)


@bp.post("/api/game/<name>/rounds")
@api("Deal a real-or-fake round (the truth stays on the server)",
     body=obj({"mode": string("inf: unlimited exposure (HYPE-∞); time: adaptive exposure (HYPE-time)",
                              enum=list(MODES), default="inf"),
               "pool": integer(0, MAX_POOL, 0, "draw from N fixed real images and seeds 0..N-1 (0: all)")}),
     body_required=False,
     responses={201: json_content(obj({"id": string(), "image_url": string(),
                                       "exposure_ms": integer(EXPOSURE_MIN_MS, EXPOSURE_MAX_MS,
                                                              description="how long to show it (mode time only)")},
                                      ("id", "image_url")))},
     errors=(409,))
def new_round(name: str):
    """Deal a round: ``{"id", "image_url"}`` (and ``"exposure_ms"`` in HYPE-time); the truth stays on the server.

    Body (optional): ``mode`` inf|time, ``pool`` N (draw from N fixed real images and N seeds; 0: all).
    """
    body = json_body() if request.content_length else {}
    mode = choice_arg("mode", MODES, "inf", source=body)
    pool = int_arg("pool", 0, 0, MAX_POOL, source=body)
    run_dir(name)
    real_images = get_real_images(name)
    get_generator(name)  # a run without a checkpoint cannot play: 404 now, not at the image
    rng = secrets.SystemRandom()
    truth = rng.choice(("real", "fake"))
    if pool:  # fixed images, so that several players judge each one
        k = rng.randrange(pool)
        source = k * len(real_images) // pool if truth == "real" else k
    else:
        source = rng.randrange(len(real_images)) if truth == "real" else rng.randrange(2**31)
    round_id, player = secrets.token_urlsafe(12), _player()
    exposure = None
    if mode == "time":
        exposure = next_exposure_ms([r["truth"] == r["answer"] for r in _time_rounds(name, player)])
    _keep_round_png(round_id, _round_png(name, truth, source))
    with db():
        db().execute("INSERT INTO rounds (id, run, truth, source, player, created, mode, exposure_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (round_id, name, truth, source, player, time.time(), mode,
                                                        exposure))
    extra = {"exposure_ms": exposure} if exposure is not None else {}
    response = jsonify(id=round_id, image_url=url_for("game.round_image", round_id=round_id), **extra)
    response.set_cookie(PLAYER_COOKIE, player, max_age=365 * 86400, httponly=True, samesite="Strict")
    return response, 201


@bp.get("/api/game/rounds/<round_id>/image.png")
@api("A round's image", responses={200: PNG})
def round_image(round_id: str):
    row = _round(round_id)
    data = current_app.extensions["ganforge.round_images"].get(round_id)
    if data is None:  # dealt before a restart, or long ago
        data = _round_png(row["run"], row["truth"], row["source"])
        _keep_round_png(round_id, data)
    return send_file(io.BytesIO(data), mimetype="image/png", max_age=0)


@bp.get("/api/game/<name>/images/<any(real, fake):truth>/<int:source>.png")
@api("An image shown in an answered round (the results' thumbnails); any other is 404",
     path={"truth": string("whether the round showed a real or a generated image", enum=["real", "fake"]),
           "source": integer(0, 2**31 - 1, description="data-set index (real) or latent seed (fake)")},
     responses={200: PNG}, errors=(409,))
def shown_image(name: str, truth: str, source: int):
    """An image that was shown and answered (the results' thumbnails); others are not served."""
    run_dir(name)
    if source >= 2**31:  # no round deals one; and SQLite cannot even compare an integer beyond 2^63
        abort(404, description="no answered round showed this image")
    seen = db().execute("SELECT 1 FROM rounds WHERE run = ? AND truth = ? AND source = ? AND answer IS NOT NULL",
                        (name, truth, source)).fetchone()
    if seen is None:
        abort(404, description="no answered round showed this image")
    return send_file(io.BytesIO(_round_png(name, truth, source)), mimetype="image/png", max_age=3600)


@bp.post("/api/game/rounds/<round_id>/answer")
@api("Answer a round once; the reply reveals the truth",
     body=obj({"answer": string(enum=["real", "fake"]),
               "response_ms": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31,
                               "description": "milliseconds from the image shown to the answer"}}, ("answer",)),
     responses={200: json_content(obj({"id": string(), "answer": string(), "truth": string(),
                                       "correct": {"type": "boolean"}}, ("id", "answer", "truth", "correct")))},
     errors=(409,))
def answer(round_id: str):
    body = json_body()
    guess = choice_arg("answer", ("real", "fake"), source=body)
    response_ms = int_arg("response_ms", None, 0, 2**31, source=body) if body.get("response_ms") is not None else None
    if response_ms is not None and response_ms > MAX_RESPONSE_MS:
        response_ms = None
    row = _round(round_id)
    now = time.time()
    with db():
        updated = db().execute(
            "UPDATE rounds SET answer = ?, response_ms = ?, server_ms = ?, answered = ? "
            "WHERE id = ? AND answer IS NULL",
            (guess, response_ms, int((now - row["created"]) * 1000), now, round_id)).rowcount
    if not updated:
        abort(409, description="this round was answered already")
    return jsonify(id=round_id, answer=guess, truth=row["truth"], correct=guess == row["truth"])


# ---- results -----------------------------------------------------------------------------
def _played_runs() -> list[str]:
    known = set(run_names())
    played = [r[0] for r in db().execute("SELECT DISTINCT run FROM rounds WHERE answer IS NOT NULL ORDER BY run")]
    return [r for r in played if r in known]


@bp.get("/api/game/results")
@api("The game's statistics for every played run",
     responses={200: json_content(obj({"results": {"type": "array", "items": RESULTS}}, ("results",)))})
def api_results():
    return jsonify(results=[results_for(r) for r in _played_runs()])


@bp.get("/api/game/<name>/results")
@api("The game's statistics for one run: fool rate, HYPE-∞, real accuracy, HYPE-time, each image's realness",
     responses={200: json_content({"allOf": [RESULTS, obj({"images": {"type": "array", "items": SHOWN_IMAGE}},
                                                          ("images",))]})})
def api_run_results(name: str):
    run_dir(name)
    return jsonify({**results_for(name), "images": images_for(name)})


@bp.get("/api/game/answers.csv")
@api("Every answered round as CSV", query={"run": string("only this run's rounds")},
     responses={200: binary("text/csv", "one row per judgement")}, errors=(404,))
def answers_csv():
    """Every answered round as CSV (one row per judgement); ``?run=NAME`` for one run."""
    run = request.args.get("run")
    if run is not None:
        run_dir(run)
    query = ("SELECT run, id, player, truth, answer, response_ms, server_ms, source, created, answered, mode, "
             "exposure_ms FROM rounds WHERE answer IS NOT NULL" + (" AND run = ?" if run else "")
             + " ORDER BY answered")
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["run", "round", "player", "truth", "answer", "correct", "response_ms", "server_ms",
                  "source", "dealt_unix", "answered_unix", "mode", "exposure_ms"])
    for r in db().execute(query, (run,) if run else ()):
        out.writerow([r["run"], r["id"], r["player"], r["truth"], r["answer"], int(r["truth"] == r["answer"]),
                      r["response_ms"] if r["response_ms"] is not None else "", r["server_ms"], r["source"],
                      f"{r['created']:.3f}", f"{r['answered']:.3f}", r["mode"],
                      r["exposure_ms"] if r["exposure_ms"] is not None else ""])
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; "
                                                    f"filename=ganforge-answers{'-' + run if run else ''}.csv"})


# ---- pages -------------------------------------------------------------------------------
@bp.get("/runs/<name>/game")
def page(name: str):
    """The game; ``?mode=time`` for HYPE-time, ``?pool=N`` to judge N fixed real and N generated images."""
    mode = choice_arg("mode", MODES, "inf", source=request.args)
    pool = int_arg("pool", 0, 0, MAX_POOL, source=request.args)
    return render_template("game/play.html", run=run_summary(name), mode=mode, pool=pool)


@bp.get("/game/results")
def results_page():
    runs = _played_runs()
    return render_template("game/results.html", results=[results_for(r) for r in runs],
                           images={r: images_for(r) for r in runs}, min_answers=MIN_ANSWERS)
