"""negforge.training: FSC-CLIP fine-tuning of open_clip models on negforge shards."""
