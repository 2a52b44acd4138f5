"""``negforge demo``: the whole system end to end on the embedded shapes world (``make demo``).

shapes world → ``negforge build`` (hard negatives, Parquet shards) → the FSC-CLIP paper's
ablation, three runs with the same model, seed, data and steps:

- ``clip-only``: the CLIP loss alone (hard negatives unused);
- ``negclip``: NegCLIP-style, CLIP + the global hard-negative loss with plain cross-entropy
  (no focal term, no label smoothing, no local loss);
- ``fsc-clip``: CLIP + global HN + local HN (token–patch) losses, both with SCR (focal +
  label smoothing);

→ each evaluated on the compositional test split (SugarCrepe format: held-out color–shape
pairs and relation triples), zero-shot shape classification and image–text retrieval →
side-by-side table, loss curves, results.json.

The default config (``demo``) fine-tunes a pretrained image tower, as FSC-CLIP fine-tunes a
pretrained CLIP: ImageNet EfficientNet-Lite0 (from PyPI), locked but its last layer group,
with its frozen part computed once per image and shared by all three runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import time
from collections.abc import Iterator

#: The install extra this command needs as a whole (torch, open_clip).
EXTRA = "train"
HELP = "end-to-end demo on the shapes world: build negatives, train CLIP / NegCLIP / FSC-CLIP, evaluate"
DESCRIPTION = """\
Runs on CPU in minutes (about 4 on 2 cores, 1.3 of them building the dataset):
  1. export: compositional test split in SugarCrepe format, zero-shot and retrieval sets
  2. build: shapes-world captions + hard negatives → OUTPUT/dataset (Parquet shards), while
     another process computes the frozen image trunk's features of every image
  3. train: the paper's ablation with the same seed, data and steps —
       clip-only (CLIP loss), negclip (+ global hard negatives, plain CE),
       fsc-clip (+ global and local hard negatives with SCR)
  4. eval: the three side by side; OUTPUT/results.json, OUTPUT/loss.png

examples:
  negforge demo --output out/demo
  negforge demo --output out/demo --steps 600 --scenes 12000     # longer, less noisy
  negforge demo --output out/demo --config tiny --set model_overrides='{vision_cfg: {image_size: 64, patch_size: 8}}'
"""

logger = logging.getLogger(__name__)

#: The ablation, in the paper's order: (run name, how it differs from the config).
#: Applied after ``--set``, so an override can never turn one run into another.
ABLATION: tuple[tuple[str, dict], ...] = (
    ("clip-only", {"loss": "clip"}),
    ("negclip", {"loss": "fsc", "lambda_local": 0.0, "gamma": 0.0, "beta": 0.0}),
    ("fsc-clip", {"loss": "fsc"}),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="demo folder (dataset/, eval/, runs/, results.json)")
    parser.add_argument(
        "--scenes",
        type=int,
        default=6000,
        help="training scenes in the shapes world (2 captions each; held-out test scenes do not depend on it)",
    )
    parser.add_argument("--eval-scenes", type=int, default=300, help="test (and val) scenes")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps per run (default: the config's)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="images per batch (default: the config's)"
    )
    parser.add_argument("--seed", type=int, default=0, help="world, build and training seed")
    parser.add_argument("--config", default="demo", help="training config (YAML file or built-in name)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a training config field for every run, repeatable",
    )
    parser.add_argument(
        "--runs",
        default=",".join(name for name, _ in ABLATION),
        help="comma-separated subset of the ablation to run (default: all three)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="runs trained at once (default: all of them, each in a forked process sharing the "
        "trunk feature memo filled during the build); 1 = one after another in this process",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset even if it exists")
    parser.add_argument(
        "--truth-negatives",
        type=int,
        default=1,
        help="image-verified negatives per type per record (generator shapes:truth), besides rules",
    )
    parser.add_argument(
        "--shapes-filter",
        choices=("none", "true", "outside"),
        default="outside",
        help="drop rule negatives true of the scene / also those outside the world's language",
    )


def _build(out: str, shapes_config, seed: int, rebuild: bool, shapes_filter: str):
    from negforge.pipeline.build import BuildConfig, run_build
    from negforge.pipeline.manifest import ManifestError, read_manifest

    if not rebuild:
        try:
            manifest = read_manifest(out)
        except (FileNotFoundError, ManifestError):
            manifest = None  # none yet, or from another negforge: rebuild
        cfg = manifest.config if manifest is not None else {}
        if cfg.get("shapes") == _asdict(shapes_config) and cfg.get("shapes_filter") == shapes_filter:
            stale = _stale_generators(manifest)
            if not stale:
                logger.info("reusing the dataset in %s", out)
                return manifest
            logger.info("rebuilding %s: its negatives come from rules that changed since (%s)", out, ", ".join(stale))
    config = BuildConfig(
        inputs=(),
        format="shapes",
        output=out,
        shards=4,
        seed=seed,
        shapes=shapes_config,
        shapes_filter=shapes_filter,
        overwrite=True,
    )
    return run_build(config, pipeline_args=[])


def _stale_generators(manifest) -> list[str]:
    """Rule generators (``rule:<name>@<version>``) in the manifest that this negforge no longer
    has: a dataset built before a rule changed must not be trained on as if it were current."""
    from negforge.generators import registry

    current = {spec.generator_id for spec in registry.available().values()}
    return sorted(g for g in manifest.counts.negatives_per_generator if g.startswith("rule:") and g not in current)


def _asdict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _selected_runs(spec: str) -> list[tuple[str, dict]]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    known = dict(ABLATION)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"--runs must name runs of {list(known)}, got {spec!r}")
    return [(name, variant) for name, variant in ABLATION if name in names]


def run(args: argparse.Namespace) -> int:
    from negforge.generators.shapes import ShapesConfig, export_retrieval, export_sugarcrepe, export_zero_shot
    from negforge.training import eval as ev
    from negforge.training.config import load_config
    from negforge.training.train import plot_losses
    from negforge.training.trunk_cache import TrunkFeatureCache

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    try:
        runs_to_do = _selected_runs(args.runs)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    shapes = ShapesConfig(
        seed=args.seed,
        n_train=args.scenes,
        n_val=args.eval_scenes,
        n_test=args.eval_scenes,
        truth_negatives_per_type=args.truth_negatives,
    )
    timings: dict[str, float] = {}
    overrides = {
        "data": os.path.join(out, "dataset"),
        "max_steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    try:
        base = load_config(args.config, overrides=overrides, sets=args.sets)
    except (ValueError, FileNotFoundError) as exc:
        logger.error("%s", exc)
        return 2
    t = time.perf_counter()
    sugarcrepe_dir = os.path.join(out, "eval", "sugarcrepe")
    zero_shot_dir = os.path.join(out, "eval", "zero_shot")
    export_sugarcrepe(shapes, sugarcrepe_dir, split="test")
    export_zero_shot(shapes, zero_shot_dir, split="val")
    retrieval_file = export_retrieval(shapes, os.path.join(out, "eval", "retrieval"), split="val")
    timings["export_s"] = time.perf_counter() - t

    # One memo of the frozen trunk's features for all runs and their evaluations, filled
    # while the build runs (the build is one core of Python; the fill runs on the other).
    cache = TrunkFeatureCache() if base.cache_trunk_features else None

    t = time.perf_counter()
    with _warming(cache, base, shapes, extra_images=_image_files(zero_shot_dir)) as warm:
        manifest = _build(os.path.join(out, "dataset"), shapes, args.seed, args.rebuild, args.shapes_filter)
        timings["build_s"] = time.perf_counter() - t
    timings["warm_s"] = warm.get("seconds", 0.0)
    logger.info(
        "dataset: %s records, %s negatives",
        manifest.counts.written,
        manifest.counts.negatives_total,
    )

    t_runs = time.perf_counter()
    evals = {"sugarcrepe": sugarcrepe_dir, "zero_shot": zero_shot_dir, "retrieval": retrieval_file}
    tasks = [
        (name, base.replace(output=os.path.join(out, "runs", name), **variant))
        for name, variant in runs_to_do
    ]
    jobs = max(1, min(args.jobs if args.jobs else len(tasks), len(tasks)))
    if jobs == 1:
        done = [_train_and_eval(name, config, evals, cache) for name, config in tasks]
    else:
        done = _run_parallel(tasks, evals, jobs, cache, warm=bool(warm.get("images")))
    runs: dict[str, dict] = {}
    curves: dict[str, list] = {}
    cache_stats = {"images": 0, "hits": 0, "misses": 0}
    for result in done:  # in ablation order whatever the order they finished in
        name = result["name"]
        runs[name], curves[name] = result["eval"], result["curve"]
        timings[f"train_{name}_s"], timings[f"eval_{name}_s"] = result["train_s"], result["eval_s"]
        for key in cache_stats:
            cache_stats[key] += result["cache"][key]
    timings["runs_s"] = time.perf_counter() - t_runs

    plot = plot_losses(curves, os.path.join(out, "loss.png"))
    delta = _deltas(runs)
    timings["total_s"] = time.perf_counter() - started
    results = {
        "runs": runs,
        "delta": delta,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "cpu_s": round(_cpu_seconds() - cpu_started, 1),
        "config": {name: base.replace(**variant).to_dict() for name, variant in runs_to_do},
        "steps": base.max_steps,
        "batch_size": base.batch_size,
        "seed": args.seed,
        "plot": plot,
    }
    results["jobs"] = jobs
    if base.cache_trunk_features:
        results["trunk_cache"] = {**cache_stats, "warmed": warm.get("images", 0)}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)

    print(ev.format_table(runs))
    print()
    for line in _delta_lines(delta):
        print(line)
    print(f"loss curves: {plot}")
    print(
        f"results: {os.path.join(out, 'results.json')}  "
        f"({timings['total_s']:.0f} s wall, {results['cpu_s']:.0f} s CPU)"
    )
    return 0


@contextlib.contextmanager
def _warming(cache, config, shapes, extra_images: list[str] = ()) -> Iterator[dict]:
    """Fill the trunk feature memo with every shapes image (train, val, test) and the image
    files ``extra_images`` (the zero-shot set) in a separate process while the body runs (the
    build); on exit take its features (or stop it, if the body failed).

    Why a process: the build is one core of mostly-Python Beam work; the fill is torch
    convolutions plus rendering and decoding, and in a thread of this process the two fought
    over the GIL (measured: build 96 -> 124 s, fill 168 s). Rendering the scenes again is pure in
    (config, split, index), so it yields the very PNG bytes the build writes, hence the same
    cache keys. Yields a dict that gets ``images`` and ``seconds`` once the features are in.
    """
    report: dict = {}
    if cache is None:
        yield report
        return
    import multiprocessing

    import torch

    from negforge.training.train import model_config

    t = time.perf_counter()
    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        pending = pool.apply_async(
            _trunk_features_of_world,
            (model_config(config), shapes, list(extra_images), config.batch_size, config.cpu_threads),
        )
        yield report
        weights, keys, features = pending.get()
    finally:
        pool.terminate()  # the fill is done (or no longer wanted): never leave the process behind
        pool.join()
    cache.load(weights, keys, None if features is None else torch.from_numpy(features))
    report.update(images=len(keys), seconds=time.perf_counter() - t)
    logger.info("trunk feature cache: %d images filled in %.0f s (beside the build)", len(keys), report["seconds"])


def _image_files(folder: str) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".png"))


def _trunk_features_of_world(model_cfg, shapes, extra_images: list[str], batch_size: int, threads: int | None):
    """(prefix fingerprint, keys, features) of every shapes image: runs in the warm-up process."""
    import torch

    from negforge.generators.shapes.records import scene_item, split_sizes
    from negforge.training.trunk_cache import TrunkFeatureCache, warm_trunk_cache

    if threads:
        torch.set_num_threads(threads)
    def pngs():
        for split, n in split_sizes(shapes).items():
            for i in range(n):
                yield scene_item(shapes, split, i).png
        for path in extra_images:
            with open(path, "rb") as f:
                yield f.read()

    cache = TrunkFeatureCache()
    warm_trunk_cache(cache, model_cfg, pngs(), batch_size=batch_size)
    weights, keys, features = cache.export()
    # plain bytes through the pipe: torch's shared-memory tensor passing needs fd sharing
    return weights, keys, None if features is None else features.numpy()


def _train_and_eval(name: str, config, evals: dict[str, str], cache=None) -> dict:
    """One run of the ablation: train (same steps and seed every time, never resumed), then
    evaluate. ``cache``: a trunk feature memo shared with other runs in this process (None:
    a fresh one when the config caches trunk features)."""
    from negforge.training import eval as ev
    from negforge.training.train import read_metrics, train
    from negforge.training.trunk_cache import TrunkFeatureCache, attach_trunk_cache

    if cache is None and config.cache_trunk_features:
        cache = TrunkFeatureCache()
    before = (len(cache), cache.hits, cache.misses) if cache is not None else (0, 0, 0)
    t = time.perf_counter()
    summary = train(config, resume=False, trunk_cache=cache)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    bundle = ev.load_for_eval(checkpoint=summary["checkpoint"])
    if cache is not None:
        attach_trunk_cache(bundle.model.visual, cache)
    results = {
        "sugarcrepe": ev.eval_sugarcrepe(bundle, evals["sugarcrepe"]),
        "zero_shot": ev.eval_zero_shot(bundle, evals["zero_shot"]),
        "retrieval": ev.eval_retrieval(bundle, evals["retrieval"], ks=(1,)),
    }
    after = (len(cache), cache.hits, cache.misses) if cache is not None else (0, 0, 0)
    return {
        "name": name,
        "eval": results,
        "curve": read_metrics(config.output),
        "train_s": train_s,
        "eval_s": time.perf_counter() - t,
        "cache": {k: a - b for k, a, b in zip(("images", "hits", "misses"), after, before, strict=True)},
    }


#: The trunk feature memo forked workers inherit (set only around a fork pool).
_INHERITED_CACHE = None


def _worker(name: str, config, evals: dict[str, str], log_level: int) -> dict:
    if multiprocessing_start_method() != "fork":
        logging.basicConfig(level=log_level, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    return _train_and_eval(name, config, evals, _INHERITED_CACHE)


def multiprocessing_start_method() -> str:
    import multiprocessing

    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _run_parallel(tasks: list, evals: dict[str, str], jobs: int, cache, warm: bool = False) -> list[dict]:
    """The ablation on ``jobs`` processes; results in ``tasks`` order.

    With a memo already filled (``warm``), every run goes to a forked process at once, each
    inheriting the memo copy-on-write. Otherwise the cheapest run (CLIP-only: one caption per
    image) goes first, in this process, filling the trunk feature memo, and the others then
    run at once in forked processes that inherit it (each process's own misses stay its own).
    Where fork is not available, every run gets a spawned process and a memo of its own.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _INHERITED_CACHE
    method = multiprocessing_start_method()
    order = sorted(range(len(tasks)), key=lambda i: tasks[i][1].loss != "clip")
    done: dict[int, dict] = {}
    if method == "fork" and not warm:
        first = order.pop(0)
        done[first] = _train_and_eval(*tasks[first], evals, cache)
    level = logging.getLogger().getEffectiveLevel()
    _INHERITED_CACHE = cache if method == "fork" else None
    try:
        with ProcessPoolExecutor(
            min(jobs, len(order)), mp_context=multiprocessing.get_context(method)
        ) as pool:
            futures = {i: pool.submit(_worker, *tasks[i], evals, level) for i in order}
            done.update({i: f.result() for i, f in futures.items()})
    finally:
        _INHERITED_CACHE = None
    return [done[i] for i in range(len(tasks))]


def _deltas(runs: dict[str, dict]) -> dict[str, dict[str, float]]:
    """FSC-CLIP minus each baseline that ran: compositional mean and zero-shot top-1, in points."""
    if "fsc-clip" not in runs:
        return {}
    fsc = runs["fsc-clip"]
    return {
        f"fsc-clip - {name}": {
            "sugarcrepe_mean": fsc["sugarcrepe"]["mean"] - other["sugarcrepe"]["mean"],
            "zero_shot_top1": fsc["zero_shot"]["top1"] - other["zero_shot"]["top1"],
        }
        for name, other in runs.items()
        if name != "fsc-clip"
    }


def _delta_lines(delta: dict[str, dict[str, float]]) -> list[str]:
    return [
        f"{pair}: compositional (SugarCrepe mean) {d['sugarcrepe_mean']:+.1f} points, "
        f"zero-shot top-1 {d['zero_shot_top1']:+.1f} points"
        for pair, d in delta.items()
    ]
