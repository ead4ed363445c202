"""Runs: the list of runs, one run's page (samples, loss plot, latest metrics, a grid for any seed), and their JSON."""

from __future__ import annotations

from operator import attrgetter

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    send_file,
    url_for,
)

from ganforge.latent import labels_for_seeds, render
from ganforge.sampling import image_grid
from ganforge.web.generators import get_generator, png_response, run_dir, run_names
from ganforge.web.openapi import PNG, Config, api, integer, json_content, number, obj
from ganforge.web.params import float_arg, int_arg
from ganforge.web.shared import (
    CLASS_PARAM,
    RUN_SUMMARY,
    SPACE_PARAM,
    class_arg,
    run_summary,
    seed_latents,
    space_arg,
    space_view,
)

bp = Blueprint("runs", __name__)

# A fixed allow-list: nothing else in the run is served.
RUN_FILES = {"samples.png": attrgetter("latest_samples"), "loss.png": attrgetter("loss_plot")}


@bp.get("/")
def index():
    names = run_names()
    if current_app.config["ONLY_RUN"]:
        return redirect(url_for("runs.run_page", name=names[0]))
    return render_template("runs/index.html", runs=[run_summary(n) for n in names])


@bp.get("/runs/<name>")
def run_page(name: str):
    return render_template("runs/run.html", run=run_summary(name))


@bp.get("/runs/<name>/files/<filename>")
def run_file(name: str, filename: str):
    if filename not in RUN_FILES:
        abort(404)
    path = RUN_FILES[filename](run_dir(name))
    if not path.is_file():
        abort(404, description=f"{filename} does not exist yet")
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/api/runs")
@api("Every run's summary", responses={200: json_content(obj({"runs": {"type": "array", "items": RUN_SUMMARY}}))})
def api_runs():
    return jsonify(runs=[run_summary(n) for n in run_names()])


@bp.get("/api/runs/<name>")
@api("One run's summary: model, data, step, latest metrics", responses={200: json_content(RUN_SUMMARY)})
def api_run(name: str):
    return jsonify(run_summary(name))


@bp.get("/api/runs/<name>/grid.png")
@api("A PNG grid of the images of seeds seed..seed+n-1",
     query={"seed": integer(0, 2**31 - 1, 0), "n": integer(1, Config("MAX_GRID_IMAGES"), 16),
            "psi": number(0.0, 2.0, 1.0, "truncation (toward w_avg in w and w+)"), "class": CLASS_PARAM,
            "space": SPACE_PARAM},
     responses={200: PNG})
def api_grid(name: str):
    """Images of seeds seed..seed+n-1: ``?seed=&n=&psi=&class=&space=`` (the run page and Explore show it)."""
    seed = int_arg("seed", 0, 0, 2**31 - 1)
    n = int_arg("n", 16, 1, current_app.config["MAX_GRID_IMAGES"])
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    space = space_arg(name)
    _, cfg = get_generator(name)
    seeds = range(seed, seed + n)
    labels = labels_for_seeds(seeds, cfg.num_classes, class_arg(name))
    return png_response(image_grid(render(space_view(name, space), seed_latents(name, seeds, psi, space), labels)))
