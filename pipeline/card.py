"""The dataset card: a Hub-ready ``README.md`` written from the build manifest.

The Hugging Face Hub reads a dataset's YAML front matter to find its files
(``configs`` / ``data_files``), its schema (``dataset_info.features``) and its
metadata (license, task tags, size category). Writing that block from the same
pyarrow schema the shards were written with means ``datasets.load_dataset(OUT)``
gets the right splits and features without sniffing a file, locally and on the
Hub alike. The prose below it is for people: per-type counts, a few examples,
the exact generation config and the papers whose methods produced the negatives.

Everything goes through Beam's ``FileSystems`` so a ``gs://`` output folder gets
its card the same way a local one does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from apache_beam.io.filesystems import FileSystems

from negforge.schemas import layout
from negforge.schemas.record import NEGATIVE_TYPES, RECORD_SCHEMA

from .manifest import Manifest

logger = logging.getLogger(__name__)

CARD_NAME = layout.CARD_FILE
#: Examples shown in the card; one per negative type where the first rows allow it.
MAX_EXAMPLES = 5
#: Rows scanned for examples (the first row group of the first shard, at most this many).
EXAMPLE_SCAN_ROWS = 512
DEFAULT_LICENSE = "unknown"
TASK_CATEGORIES = ("zero-shot-image-classification", "image-to-text", "text-to-image")
TAGS = ("hard-negatives", "compositionality", "vision-language", "clip", "sugarcrepe", "negforge")

#: The Hub's size buckets, upper bounds exclusive.
_SIZE_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
)

CITATIONS = """\
```bibtex
@inproceedings{hsieh2023sugarcrepe,
  title     = {SugarCrepe: Fixing Hackable Benchmarks for Vision-Language Compositionality},
  author    = {Hsieh, Cheng-Yu and Zhang, Jieyu and Ma, Zixian and Kembhavi, Aniruddha and Krishna, Ranjay},
  booktitle = {Advances in Neural Information Processing Systems (Datasets and Benchmarks Track)},
  year      = {2023}
}

@inproceedings{yuksekgonul2023when,
  title     = {When and Why Vision-Language Models Behave like Bags-Of-Words, and What to Do About It?},
  author    = {Yuksekgonul, Mert and Bianchi, Federico and Kalluri, Pratyusha and Jurafsky, Dan and Zou, James},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2023}
}

@inproceedings{oh2024preserving,
  title     = {Preserving Multi-Modal Capabilities of Pre-trained {VLMs} for Improving Vision-Linguistic
               Compositionality},
  author    = {Oh, Youngtaek and Cho, Jae Won and Kim, Dong-Jin and Kweon, In So and Kim, Junmo},
  booktitle = {Proceedings of the 2024 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year      = {2024}
}
```"""

# ---------------------------------------------------------------------------
# pyarrow schema -> Hub YAML features
# ---------------------------------------------------------------------------

_DTYPE_NAMES = {
    pa.float16(): "float16",
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.bool_(): "bool",
}


def _dtype_name(arrow_type: pa.DataType) -> str:
    """The ``datasets.Value`` dtype name of a primitive arrow type."""
    if arrow_type in _DTYPE_NAMES:
        return _DTYPE_NAMES[arrow_type]
    if pa.types.is_null(arrow_type):
        return "null"
    name = str(arrow_type)
    if pa.types.is_nested(arrow_type) or pa.types.is_dictionary(arrow_type):
        raise ValueError(f"arrow type must be primitive here, got {arrow_type!r}")
    return name


def _feature_body(arrow_type: pa.DataType) -> dict[str, Any]:
    """The part of a YAML feature after its ``name`` (``dtype`` / ``struct`` / ``list``)."""
    if pa.types.is_struct(arrow_type):
        return {"struct": [_feature(arrow_type.field(i)) for i in range(arrow_type.num_fields)]}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        item = arrow_type.value_type
        if pa.types.is_struct(item):
            return {"list": [_feature(item.field(i)) for i in range(item.num_fields)]}
        inner = _feature_body(item)
        return {"list": inner["dtype"] if set(inner) == {"dtype"} else inner}
    return {"dtype": _dtype_name(arrow_type)}


def _feature(field: pa.Field) -> dict[str, Any]:
    return {"name": field.name, **_feature_body(field.type)}


def features_yaml(schema: pa.Schema = RECORD_SCHEMA) -> list[dict[str, Any]]:
    """``dataset_info.features`` for ``schema``, in the layout ``datasets`` itself writes.

    Written here rather than through ``datasets.Features`` because ``datasets`` is
    not a runtime dependency of the build (tests check the two agree).
    """
    return [_feature(schema.field(i)) for i in range(len(schema))]


# ---------------------------------------------------------------------------
# Reading the output folder
# ---------------------------------------------------------------------------


class CardError(ValueError):
    """The shards and the manifest of a folder disagree: a card would state something false."""


@dataclass(frozen=True)
class SplitInfo:
    name: str
    num_examples: int  # rows, from the Parquet footers
    num_bytes: int  # uncompressed bytes of the row groups (what ``datasets`` calls num_bytes)
    download_size: int  # bytes of the shard files


def size_category(num_rows: int) -> str:
    for bound, name in _SIZE_CATEGORIES:
        if num_rows < bound:
            return name
    return "n>1T" if num_rows > 1_000_000_000_000 else "10B<n<100B"


def list_shards(output_dir: str) -> dict[str, list[tuple[str, int]]]:
    """``{split: [(path, size_bytes), ...]}`` for the shards under ``output_dir/data``, sorted."""
    pattern = FileSystems.join(output_dir, layout.DATA_DIR, "*.parquet")
    result = FileSystems.match([pattern])[0]
    shards: dict[str, list[tuple[str, int]]] = {}
    for meta in result.metadata_list:
        name = meta.path.rstrip("/").rsplit("/", 1)[-1]
        parsed = layout.parse_shard_name(name)
        if parsed is None:
            logger.warning("ignoring %s: not named {split}-NNNNN-of-NNNNN.parquet", meta.path)
            continue
        shards.setdefault(parsed.split, []).append((meta.path, int(meta.size_in_bytes)))
    return {split: sorted(files) for split, files in sorted(shards.items())}


def _parquet_metadata(path: str) -> pq.FileMetaData:
    with FileSystems.open(path) as f:
        return pq.ParquetFile(f).metadata


def split_infos(shards: Mapping[str, Sequence[tuple[str, int]]]) -> list[SplitInfo]:
    """Per split: rows and uncompressed bytes from the Parquet footers, file bytes from the listing."""
    infos = []
    for split, files in shards.items():
        rows = 0
        data_bytes = 0
        for path, _ in files:
            meta = _parquet_metadata(path)
            rows += meta.num_rows
            data_bytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        infos.append(SplitInfo(split, rows, data_bytes, sum(size for _, size in files)))
    return infos


def _example_rows(path: str, limit: int) -> list[dict[str, Any]]:
    with FileSystems.open(path) as f:
        parquet = pq.ParquetFile(f)
        if parquet.metadata.num_row_groups == 0:
            return []
        table = parquet.read_row_group(0, columns=["id", "caption", "negatives"])
    return table.slice(0, limit).to_pylist()


def pick_examples(rows: Iterable[Mapping[str, Any]], limit: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
    """Up to ``limit`` (caption, negative) pairs from distinct records, new negative types first.

    A first pass shows each type once (taxonomy order within a record); when the
    rows hold fewer types than ``limit``, further records fill the table with
    their first negative. Deterministic: rows in file order (shards are sorted by
    id), negatives in record order.
    """
    order = {name: i for i, name in enumerate(NEGATIVE_TYPES)}
    rows = [r for r in rows if r.get("negatives")]
    shown: set[str] = set()
    used: set[int] = set()
    examples: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if len(examples) >= limit:
            return examples
        for neg in sorted(row["negatives"], key=lambda n: order.get(n["type"], len(order))):
            if neg["type"] not in shown:
                shown.add(neg["type"])
                used.add(i)
                examples.append(_example(row, neg))
                break  # one pair per record keeps the examples varied
    for i, row in enumerate(rows):
        if len(examples) >= limit:
            break
        if i not in used:
            examples.append(_example(row, row["negatives"][0]))
    return examples


def _example(row: Mapping[str, Any], neg: Mapping[str, Any]) -> dict[str, Any]:
    return {"caption": row["caption"], "type": neg["type"], "negative": neg["text"], "generator": neg["generator"]}


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def front_matter(
    splits: Sequence[SplitInfo],
    license: str,
    pretty_name: str | None = None,
) -> dict[str, Any]:
    """The YAML metadata block, as a dict (key order is the order the Hub shows)."""
    total_rows = sum(s.num_examples for s in splits)
    meta: dict[str, Any] = {"license": license}
    if pretty_name:
        meta["pretty_name"] = pretty_name
    meta.update(
        {
            "language": ["en"],
            "task_categories": list(TASK_CATEGORIES),
            "tags": list(TAGS),
            "size_categories": [size_category(total_rows)],
            "configs": [
                {
                    "config_name": "default",
                    "data_files": [{"split": s.name, "path": layout.split_data_files(s.name)} for s in splits],
                }
            ],
            "dataset_info": {
                "features": features_yaml(RECORD_SCHEMA),
                "splits": [
                    {"name": s.name, "num_bytes": s.num_bytes, "num_examples": s.num_examples} for s in splits
                ],
                "download_size": sum(s.download_size for s in splits),
                "dataset_size": sum(s.num_bytes for s in splits),
            },
        }
    )
    return meta


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _count(n: int) -> str:
    return f"{n:,}"


#: Table headers of the card's manifest tables (tests parse the card by them).
SPLITS_HEADER = ("split", "records", "Parquet bytes")
TYPES_HEADER = ("type", "negatives", "share")
GENERATORS_HEADER = ("generator", "negatives")
ACCOUNTING_HEADER = ("count", "value")
STAGES_HEADER = ("stage", "dead-lettered")
INPUTS_HEADER = ("input", "bytes", "sha256")
VERSIONS_HEADER = ("component", "version")
RUN_HEADER = ("build", "value")
#: The scalar counts, in the order the accounting table shows them.
ACCOUNTING_ROWS = ("read", "written", "dead_lettered", "records_with_negatives", "negatives_total")


def _counts_section(manifest: Manifest, splits: Sequence[SplitInfo]) -> str:
    counts = manifest.counts
    parts = ["## Contents", ""]
    parts.append(_table(SPLITS_HEADER, [
        (s.name, _count(counts.records_per_split.get(s.name, 0)), _count(s.download_size)) for s in splits
    ]))
    if counts.negatives_per_type:
        total = counts.negatives_total or 1
        order = {name: i for i, name in enumerate(NEGATIVE_TYPES)}
        rows = sorted(counts.negatives_per_type.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        parts += ["", "Negatives per type (`type` names follow SugarCrepe where it has one):", ""]
        parts.append(_table(TYPES_HEADER, [
            (f"`{name}`", _count(n), f"{100 * n / total:.1f}%") for name, n in rows
        ]))
    if counts.negatives_per_generator:
        parts += ["", "Negatives per generator (`rule:<name>@<version>`, `llm:<model>@<prompt>`, ...):", ""]
        parts.append(_table(GENERATORS_HEADER, [
            (f"`{name}`", _count(n)) for name, n in sorted(counts.negatives_per_generator.items())
        ]))
    parts += ["", "Build accounting (every input row is either written or dead-lettered "
              "with its reason in `errors/`):", ""]
    parts.append(_table(ACCOUNTING_HEADER, [(key, _count(getattr(counts, key))) for key in ACCOUNTING_ROWS]))
    parts += ["", "Dead letters per stage:", ""]
    if counts.dead_lettered_by_stage:
        parts.append(_table(STAGES_HEADER, [
            (stage, _count(n)) for stage, n in sorted(counts.dead_lettered_by_stage.items())
        ]))
    else:
        parts.append("None: every input row became a record.")
    return "\n".join(parts)


def _examples_section(examples: Sequence[Mapping[str, Any]]) -> str:
    if not examples:
        return ""
    return "\n".join([
        "## Examples",
        "",
        _table(["type", "positive", "hard negative", "generator"], [
            (f"`{e['type']}`", e["caption"], e["negative"], f"`{e['generator']}`") for e in examples
        ]),
    ])


def _build_section(manifest: Manifest) -> str:
    parts = ["## How it was built", ""]
    parts.append(_table(RUN_HEADER, [
        ("config_hash", f"`{manifest.config_hash}`"),
        ("runner", f"`{manifest.runner}`"),
        ("wall_time_s", f"{manifest.wall_time_s:g}"),
    ]))
    parts += ["", "Versions:", ""]
    parts.append(_table(VERSIONS_HEADER, [
        (f.name, f"`{getattr(manifest.versions, f.name)}`") for f in dataclasses.fields(manifest.versions)
    ]))
    parts += ["", "Inputs (size and sha256 of each file as stored, so a rebuild can be checked "
              "against this one):", ""]
    if manifest.inputs:
        parts.append(_table(INPUTS_HEADER, [
            (i.path, _count(i.size_bytes), f"`{i.sha256}`") for i in manifest.inputs
        ]))
    else:
        parts.append("None: the records were generated (shapes world).")
    parts += ["", "Generation config:", "", "```json",
              json.dumps(manifest.config, indent=2, sort_keys=True, default=str), "```"]
    if manifest.stats:
        parts += ["", "<details><summary>Stage statistics</summary>", "", "```json",
                  json.dumps(manifest.stats, indent=2, sort_keys=True, default=str), "```", "", "</details>"]
    return "\n".join(parts)


_INTRO = """\
# {title}

Hard-negative captions for training and evaluating vision-language models on
compositionality, built with negforge.
Each record is an image-caption pair (`caption` is the positive) with its parsed
scene graph and a list of `negatives`: captions that differ from the positive in
one controlled way (an object, attribute or relation replaced, two objects or
attributes swapped, an object or attribute added, a negation, a count change or
a word-order shuffle). Every negative records its `type`, the `generator` that
made it, the `edit` span it changed in the positive and its `scores`.

```python
from datasets import load_dataset

ds = load_dataset("{repo_id}")
```
"""

_FIELDS = """\
## Fields

| field | meaning |
|---|---|
| `id` | the input's own id, else sha1(source, caption, image reference) |
| `caption` | the positive caption |
| `image` | `{uri, bytes, width, height}`: the image by reference or by value |
| `source`, `split` | input name and split |
| `scene_graph` | objects (with attributes and counts) and relations, with character spans |
| `negatives` | `{text, type, generator, edit{start, end, before, after}, scores{fluency_nll, text_sim, plausibility}}` |

`edit` is null for shuffles; a null score was not computed for that build.
Dead-lettered inputs (rows that did not become records) are in `errors/` with
their reason; they are not part of any split.
"""

_CITATION_INTRO = """\
## Citation

The negative types and the rules behind them follow SugarCrepe (type names,
blind-model bias checks), NegCLIP (hard negatives for CLIP fine-tuning, shuffles)
and FSC-CLIP (the fine-tuning recipe negforge ships). Please cite them:
"""


def render_card(
    manifest: Manifest,
    splits: Sequence[SplitInfo],
    examples: Sequence[Mapping[str, Any]] = (),
    *,
    license: str | None = None,
    repo_id: str | None = None,
    pretty_name: str | None = None,
) -> str:
    """The card's full text. Pure: everything it shows is passed in."""
    license = license or manifest.license or DEFAULT_LICENSE
    meta = front_matter(splits, license=license, pretty_name=pretty_name)
    title = pretty_name or (repo_id.rsplit("/", 1)[-1] if repo_id else "negforge hard-negative dataset")
    sections = [
        "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---",
        _INTRO.format(title=title, repo_id=repo_id or "path/to/this/folder"),
        _counts_section(manifest, splits),
        _examples_section(examples),
        _FIELDS,
        _build_section(manifest),
        f"## License\n\nLicense: `{license}`. Negatives are derived from the input captions "
        "and inherit their license and terms of use.",
        _CITATION_INTRO + "\n" + CITATIONS,
    ]
    return "\n\n".join(s.strip("\n") for s in sections if s) + "\n"


def build_card(
    output_dir: str,
    manifest: Manifest,
    *,
    license: str | None = None,
    repo_id: str | None = None,
    pretty_name: str | None = None,
) -> str:
    """Read the shards under ``output_dir`` (footers and a few rows) and render the card.

    Raises :class:`CardError` when the shards hold other splits or row counts
    than the manifest says: the card shows both, so they must agree.
    """
    shards = list_shards(output_dir)
    if not shards:
        logger.warning("no shards under %s/%s: the card will list no splits", output_dir, layout.DATA_DIR)
    splits = split_infos(shards)
    check_against_manifest(splits, manifest, output_dir)
    examples: list[dict[str, Any]] = []
    first_split = "train" if "train" in shards else next(iter(shards), None)
    if first_split is not None:
        for path, _ in shards[first_split]:
            examples = pick_examples(_example_rows(path, EXAMPLE_SCAN_ROWS))
            if examples:
                break
    return render_card(
        manifest, splits, examples, license=license, repo_id=repo_id, pretty_name=pretty_name
    )


def check_against_manifest(splits: Sequence[SplitInfo], manifest: Manifest, output_dir: str = "") -> None:
    """``CardError`` unless the shards' rows per split are the manifest's ``records_per_split``."""
    expected = {k: v for k, v in manifest.counts.records_per_split.items() if v}
    found = {s.name: s.num_examples for s in splits if s.num_examples}
    if expected != found:
        raise CardError(
            f"{output_dir or 'the build folder'}: manifest.json says records per split {expected}, "
            f"the shards under {layout.DATA_DIR}/ hold {found}; rebuild, or restore the missing shards"
        )


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary name and a rename, so readers never see half a card."""
    tmp = path + ".tmp"
    with FileSystems.create(tmp, mime_type="text/markdown") as f:
        f.write(text.encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_card(
    output_dir: str,
    manifest: Manifest,
    *,
    license: str | None = None,
    repo_id: str | None = None,
    pretty_name: str | None = None,
) -> None:
    """Write ``output_dir/README.md`` for the build described by ``manifest``.

    The build passes only the folder and manifest; ``negforge publish`` rewrites
    the card with the repo id (for the ``load_dataset`` snippet) and license.
    """
    text = build_card(output_dir, manifest, license=license, repo_id=repo_id, pretty_name=pretty_name)
    write_text(FileSystems.join(output_dir, CARD_NAME), text)
    logger.info("wrote dataset card %s", FileSystems.join(output_dir, CARD_NAME))
