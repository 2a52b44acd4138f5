"""Where does attribute binding fail in the demo's trained models? (issue 13 diagnostics)

For each swap test item (SugarCrepe export, held-out ``test`` split, and the in-distribution
``val`` split) the scene is re-rendered twice from its layout, without color jitter: A as it is
and B with the two groups' colors (swap_att) or shapes (swap_obj) exchanged, so B is the
image the negative caption describes. With P the caption, N the swapped caption:

- text:  cos(t_P, t_N) (≈1: the text tower cannot tell them apart), vs replace_att's
- image: cos(e_A, e_B) (≈1: the image tower cannot tell the scenes apart)
- acc      s(A,P) > s(A,N)  (SugarCrepe's own score, on the re-rendered image)
- img2afc  s(A,P) > s(B,P)  (images ranked for a fixed caption: image side)
- txt2afc  s(B,N) > s(B,P)  (captions ranked on the swapped image)

and a text-free linear probe of the image trunk's average-pooled features (the frozen prefix
for the first run, the whole trained trunk for each run): ridge regression to the 56
(color, shape) conjunction indicators on 1,500 train scenes; on in-distribution (val) swap
pairs, does the probe score A's conjunctions higher on A than on B? (50 = no binding.)

Assumes the demo's default world (seed 0, 6,000 train scenes, 300 eval scenes: ``CFG``).
Writes OUT/demo/diag_binding.json (and exports the val split's SugarCrepe set once).

usage: python benchmarks/diag_binding.py OUT/demo [run ...]
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import torch
import torch.nn.functional as F

from negforge.generators.shapes import ShapesConfig
from negforge.generators.shapes.render import render_image
from negforge.generators.shapes.scene import Scene, sample_scene
from negforge.generators.shapes.vocab import COLORS, SHAPES
from negforge.training.eval import encode_texts, load_for_eval
from negforge.training.model import encode_image

CFG = ShapesConfig(seed=0, n_train=6000, n_val=300, n_test=300, truth_negatives_per_type=1)


def flat(scene: Scene) -> Scene:
    """The scene with every object in its group's base color (no jitter)."""
    objs = tuple(dataclasses.replace(o, rgb=COLORS[scene.groups[o.group].color]) for o in scene.objects)
    return dataclasses.replace(scene, objects=objs)


def swapped(scene: Scene, field: str) -> Scene:
    g0, g1 = scene.groups
    a, b = getattr(g0, field), getattr(g1, field)
    groups = (dataclasses.replace(g0, **{field: b}), dataclasses.replace(g1, **{field: a}))
    return flat(dataclasses.replace(scene, groups=groups))


def items(folder: str, kind: str, split: str):
    with open(os.path.join(folder, f"{kind}.json"), encoding="utf-8") as f:
        table = json.load(f)
    out = []
    for e in table.values():
        index = int(os.path.basename(e["filename"]).split("-")[-1].split(".")[0])
        scene = sample_scene(CFG, split, index)
        if len(scene.groups) != 2:
            continue
        out.append((scene, e["caption"], e["negative_caption"]))
    return out


@torch.no_grad()
def embed_images(bundle, scenes):
    imgs = torch.stack([bundle.preprocess(render_image(s, CFG.image_size, CFG.supersample)) for s in scenes])
    out = []
    for i in range(0, len(imgs), 64):
        out.append(F.normalize(encode_image(bundle.model, imgs[i : i + 64]).float(), dim=-1))
    return torch.cat(out)


def swap_stats(bundle, its, field):
    A = embed_images(bundle, [flat(s) for s, _, _ in its])
    B = embed_images(bundle, [swapped(s, field) for s, _, _ in its])
    P = encode_texts(bundle, [p for _, p, _ in its])
    N = encode_texts(bundle, [n for _, _, n in its])
    s = lambda x, y: (x * y).sum(-1)  # noqa: E731
    return {
        "n": len(its),
        "cos_text": round(float(s(P, N).mean()), 4),
        "cos_img": round(float(s(A, B).mean()), 4),
        "acc": round(float((s(A, P) > s(A, N)).float().mean()) * 100, 1),
        "img2afc": round(float((s(A, P) > s(B, P)).float().mean()) * 100, 1),
        "txt2afc": round(float((s(B, N) > s(B, P)).float().mean()) * 100, 1),
    }


def text_cos(bundle, folder, kind):
    with open(os.path.join(folder, f"{kind}.json"), encoding="utf-8") as f:
        table = list(json.load(f).values())
    P = encode_texts(bundle, [e["caption"] for e in table])
    N = encode_texts(bundle, [e["negative_caption"] for e in table])
    return round(float((P * N).sum(-1).mean()), 4)


@torch.no_grad()
def pooled_trunk(bundle, scenes, frozen_only: bool):
    """Pooled trunk features: the frozen prefix's (frozen_only) or the full trunk's output."""
    from negforge.training.trunk_cache import frozen_prefix

    trunk = bundle.model.visual.trunk
    prefix, _, _ = frozen_prefix(trunk)
    out = []
    imgs = [bundle.preprocess(render_image(s, CFG.image_size, CFG.supersample)) for s in scenes]
    for i in range(0, len(imgs), 64):
        x = torch.stack(imgs[i : i + 64])
        if frozen_only:
            for m in prefix:
                x = m(x)
        else:
            x = trunk.forward_features(x)
        out.append(x.mean((2, 3)))
    return torch.cat(out)


def conj_targets(scenes):
    cols, shps = sorted(COLORS), sorted(SHAPES)
    y = torch.zeros(len(scenes), len(cols) * len(shps))
    for i, s in enumerate(scenes):
        for g in s.groups:
            y[i, cols.index(g.color) * len(shps) + shps.index(g.shape)] = 1
    return y, cols, shps


def probe(bundle, frozen_only: bool, n_train=1500):
    train = [flat(sample_scene(CFG, "train", i)) for i in range(n_train)]
    Xtr = pooled_trunk(bundle, train, frozen_only)
    ytr, cols, shps = conj_targets(train)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    Xn = torch.cat([(Xtr - mu) / sd, torch.ones(len(Xtr), 1)], 1)
    W = torch.linalg.solve(Xn.T @ Xn + 10.0 * torch.eye(Xn.shape[1]), Xn.T @ ytr)
    res = {}
    for field in ("color", "shape"):
        pairs = [
            s
            for s in (sample_scene(CFG, "val", i) for i in range(300))
            if len(s.groups) == 2 and getattr(s.groups[0], field) != getattr(s.groups[1], field)
        ]
        A = [flat(s) for s in pairs]
        B = [swapped(s, field) for s in pairs]
        fa = torch.cat([(pooled_trunk(bundle, A, frozen_only) - mu) / sd, torch.ones(len(A), 1)], 1) @ W
        fb = torch.cat([(pooled_trunk(bundle, B, frozen_only) - mu) / sd, torch.ones(len(B), 1)], 1) @ W
        ya, _, _ = conj_targets(A)
        # score of A's own conjunctions on A vs on B (B's conjunctions are A's, swapped)
        sa, sb = (fa * ya).sum(1), (fb * ya).sum(1)
        res[f"swap_{'att' if field == 'color' else 'obj'}"] = round(float((sa > sb).float().mean()) * 100, 1)
    return res


def main() -> None:
    demo = sys.argv[1]
    runs = sys.argv[2:] or ["clip-only", "negclip", "fsc-clip"]
    torch.set_num_threads(1)
    test_dir = os.path.join(demo, "eval", "sugarcrepe")
    val_dir = os.path.join(demo, "eval", "sugarcrepe_val")
    if not os.path.isdir(val_dir):
        from negforge.generators.shapes import export_sugarcrepe

        export_sugarcrepe(CFG, val_dir, split="val")
    sets = {
        (split, kind): items(folder, kind, split)
        for split, folder in (("test", test_dir), ("val", val_dir))
        for kind in ("swap_att", "swap_obj")
    }
    report = {}
    for run in runs:
        bundle = load_for_eval(os.path.join(demo, "runs", run, "checkpoints", "last.pt"))
        r = {}
        for (split, kind), its in sets.items():
            r[f"{split}/{kind}"] = swap_stats(bundle, its, "color" if kind == "swap_att" else "shape")
        r["cos_text_replace_att_test"] = text_cos(bundle, test_dir, "replace_att")
        r["cos_text_replace_obj_test"] = text_cos(bundle, test_dir, "replace_obj")
        if run == runs[0]:
            r["probe_frozen_pooled"] = probe(bundle, frozen_only=True)
        r["probe_trunk_pooled"] = probe(bundle, frozen_only=False)
        report[run] = r
        print(run, json.dumps(r, indent=1), flush=True)
    with open(os.path.join(demo, "diag_binding.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
