"""negforge.generators: scene-graph parsing and hard-negative generators (pure Python, no Beam)."""
