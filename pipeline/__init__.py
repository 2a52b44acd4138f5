"""negforge.pipeline: the Apache Beam build pipeline, I/O, publishing and the CLI."""
