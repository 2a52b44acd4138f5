"""Dataset card (placeholder until issue 8 lands)."""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems


def write_card(output_dir: str, manifest: dict) -> None:
    counts = manifest.get("counts", {})
    text = "# negforge hard-negative dataset\n\n```json\n" + json.dumps(counts, indent=2) + "\n```\n"
    with FileSystems.create(FileSystems.join(output_dir, "README.md")) as f:
        f.write(text.encode())
