"""Can the demo's text tower learn color-shape binding in the demo's step budget? (issue 13)

Text tower alone (the open_clip config's text transformer, from scratch, the demo's optimizer
settings), trained against fixed *ideal* image-side targets: a caption's target is
normalize(sum over its noun phrases of a_color * b_shape), a_c and b_s random Gaussian vectors
(a compositional conjunction code, so held-out pairs have targets too). Loss: in-batch InfoNCE
text<->target plus cross-entropy of the target over [caption, its color-swapped caption].
Reported: swap accuracy <y_P, t_P> > <y_P, t_N> on val (seen pairs) and test (held-out pairs)
scenes' swapped captions, and cos(t_P, t_N).

With a checkpoint as 5th argument the targets are instead that trained model's (frozen) image
embeddings of the scenes (re-rendered without color jitter): can a text tower bind against
*those*? Chance there means the trained image embeddings carry no usable binding signal.

usage: python benchmarks/text_binding_probe.py [MODEL] [STEPS] [LR] [HN_WEIGHT] [CHECKPOINT]
"""

from __future__ import annotations

import math
import random
import sys
import time

import torch
import torch.nn.functional as F

from negforge.generators.shapes import ShapesConfig
from negforge.generators.shapes.captions import scene_specs, write_caption
from negforge.generators.shapes.negatives import negative_specs
from negforge.generators.shapes.records import caption_rng
from negforge.generators.shapes.scene import sample_scene
from negforge.generators.shapes.vocab import COLORS, SHAPES
from negforge.training.model import ModelConfig, create_model

CFG = ShapesConfig(seed=0, n_train=6000, n_val=300, n_test=300)


def captions(split, n):
    out = []  # (caption, swapped caption or None, [(color, shape)], scene index)
    for i in range(n):
        scene = sample_scene(CFG, split, i)
        for spec in scene_specs(scene, caption_rng(CFG, split, i), 2, CFG.size_mention_prob):
            neg = negative_specs(spec, scene, "swap_att")
            out.append(
                (
                    write_caption(spec)[0],
                    write_caption(neg[0])[0] if neg else None,
                    [(np.color, np.shape) for np in spec.nps],
                    i,
                )
            )
    return out


def main() -> None:
    model_name = sys.argv[1] if len(sys.argv) > 1 else "EfficientNet-Lite0-Tiny"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    lr = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
    hn_w = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = random.Random(0)
    bundle = create_model(ModelConfig(name=model_name))
    model, tok = bundle.model, bundle.tokenizer
    for p in model.visual.parameters():
        p.requires_grad_(False)
    d = model.text_projection.shape[1]
    g = torch.Generator().manual_seed(1)
    a = {c: torch.randn(d, generator=g) for c in COLORS}
    b = {s: torch.randn(d, generator=g) for s in SHAPES}

    train = captions("train", 6000)
    evals = {split: [x for x in captions(split, 300) if x[1]] for split in ("val", "test")}
    image_targets = {}
    if len(sys.argv) > 5:
        from diag_binding import embed_images, flat

        from negforge.training.eval import load_for_eval

        trained = load_for_eval(sys.argv[5])
        for split, n in (("train", 6000), ("val", 300), ("test", 300)):
            emb = embed_images(trained, [flat(sample_scene(CFG, split, i)) for i in range(n)])
            image_targets.update({(split, i): emb[i] for i in range(n)})
        del trained

    def target(x, split="train"):
        if image_targets:
            return image_targets[(split, x[3])]
        return F.normalize(sum(a[c] * b[s] for c, s in x[2]), dim=-1)

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / 20 if s < 20 else 0.5 * (1 + math.cos(math.pi * (s - 20) / max(1, steps - 20))),
    )
    t0 = time.perf_counter()
    for _step in range(steps):
        batch = rng.sample(train, 64)
        y = torch.stack([target(x) for x in batch])
        t = F.normalize(model.encode_text(tok([x[0] for x in batch])), dim=-1)
        scale = model.logit_scale.exp()
        logits = scale * t @ y.T
        lab = torch.arange(len(batch))
        loss = (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab)) / 2
        hard = [i for i, x in enumerate(batch) if x[1]]
        if hard and hn_w > 0:
            tn = F.normalize(model.encode_text(tok([batch[i][1] for i in hard])), dim=-1)
            pos = (t[hard] * y[hard]).sum(-1)
            neg = (tn * y[hard]).sum(-1)
            loss = loss + hn_w * F.cross_entropy(
                scale * torch.stack([pos, neg], 1), torch.zeros(len(hard), dtype=torch.long)
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    train_s = time.perf_counter() - t0
    model.eval()
    res = {}
    with torch.no_grad():
        for split, items in evals.items():
            y = torch.stack([target(x, split) for x in items])
            tp = F.normalize(model.encode_text(tok([x[0] for x in items])), dim=-1)
            tn = F.normalize(model.encode_text(tok([x[1] for x in items])), dim=-1)
            res[split] = {
                "n": len(items),
                "swap_acc": round(float(((tp * y).sum(-1) > (tn * y).sum(-1)).float().mean()) * 100, 1),
                "cos_text": round(float((tp * tn).sum(-1).mean()), 4),
            }
    print(model_name, steps, lr, hn_w, sys.argv[5:], res, f"{train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
