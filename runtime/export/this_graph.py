"""A stand-in for the "This graph" section of an exported script: a tiny network on XOR.

Every exported script defines these names itself, written from its graph by ``script.py``.
:mod:`.loop` imports them from here, so that the loop imports, lints and runs as ordinary
Python; its unit tests train this network and replace single names (``penalty``,
``CLIP_GRAD_NORM``...) to exercise the graph-dependent parts. Nothing here is copied into a
script: the exporter refuses (an internal ExportError) a script that would lack one of the
names the loop takes from here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..modules import family_correct, family_target

# Settings: the defaults of the script's command-line options.
EPOCHS = 3
SEED = 0
DEVICE = "cpu"
BATCH_SIZE = 4  # 0 = full batch
SHUFFLE = True
PATIENCE = 0  # early stopping (0 = off)
MIN_DELTA = 0.0
RESTORE_BEST = True
VAL_CHUNK = 1024  # validation rows per forward pass
INITIAL_WEIGHTS = None  # or a state_dict file to start from
CLIP_GRAD_NORM = 0.0  # 0 = no gradient clipping


def load_data():
    """Training and validation arrays: the XOR corners, twelve rows to train, four to check."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 4, dtype=np.float32)
    y = np.array([0, 1, 1, 0] * 4, dtype=np.int64)
    return x[:12], y[:12], x[12:], y[12:]


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 4)
        self.act = nn.Tanh()
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.act(self.hidden(x)))


def make_loss():
    return nn.CrossEntropyLoss()


def loss_target(y):
    return family_target("class", y, 2)


def count_correct(prediction, target):
    return family_correct("class", prediction, target, 0.0)


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=0.05)


def make_scheduler(optimizer):
    return None  # no learning-rate schedule


penalty = None  # no layer has an L1/L2 penalty
max_norm = None  # no layer has a max-norm constraint
