"""Everything that needs torch: model building, data, training, checkpoints, export.

Importing ``runtime`` itself is cheap: submodules import torch, and callers import them lazily
(``runtime.cli`` serves ``netwright validate`` without torch).
"""
