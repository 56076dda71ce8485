"""Ready-made scenarios shipped with pytest-boxkoji (base.yaml and examples)."""
