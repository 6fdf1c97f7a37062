"""Research measurements on top of the pipeline: feature-group ablation and edge studies."""
