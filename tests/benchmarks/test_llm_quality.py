"""benchmarks/llm_quality.py --fill-gaps without a model: the rules' negatives come first, the
coverage table counts a caption once per type whether rules or the LLM covered it."""

from __future__ import annotations

import sys
from pathlib import Path

from negforge.schemas import CaptionRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import llm_quality  # noqa: E402  (benchmarks/ is not a package; a failing import must fail, not skip)

CAPTIONS = [
    "A brown dog runs on the beach .",
    "A man in a red shirt rides a bike .",
    "Two girls sit on a bench .",
]


def test_fill_gaps_coverage_counts_rules_then_llm(parse, resources):
    records = [CaptionRecord(id=f"c{i}", caption=c, source="t", scene_graph=parse(c)) for i, c in enumerate(CAPTIONS)]
    with_rules = llm_quality._with_rule_negatives(records, 0, resources)
    assert [r.id for r in with_rules] == ["c0", "c1", "c2"]
    assert all(n.generator.startswith("rule:") for r in with_rules for n in r.negatives)
    assert all(r.negatives for r in with_rules)
    types = ("replace_obj", "replace_att", "swap_att")
    rules_only = llm_quality._coverage(with_rules, types, {})
    for t in types:
        assert rules_only[t]["rules_llm_all"] == rules_only[t]["rules_all"]
    uncovered = [r.id for r in with_rules if not any(n.type == "replace_att" for n in r.negatives)]
    assert uncovered  # "Two girls sit on a bench" has no attribute to replace
    gained = {"replace_att": set(uncovered[:1]), "replace_obj": {"c0"}}  # c0 already has replace_obj
    both = llm_quality._coverage(with_rules, types, gained)
    want = rules_only["replace_att"]["rules_all"] + (len(uncovered[:1]) / len(records))
    assert abs(both["replace_att"]["rules_llm_all"] - round(want, 3)) < 1e-3
    assert both["replace_obj"]["rules_llm_all"] == rules_only["replace_obj"]["rules_all"]
    assert both["replace_att"]["parts"] == 2  # "brown", "red": the parse's attributes, not the rules'
