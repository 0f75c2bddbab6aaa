"""Where does a kindling training step spend its time on a GPU compared with the raw loop? (cProfile)"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_trainer import _cifar_module, _kindling_epoch  # noqa: E402
from raw_loop import raw_epoch  # noqa: E402

from kindling import models  # noqa: E402

data = _cifar_module(20000)
sig = data.signature
x, y = data.train.x.cuda(), data.train.y.cuda()


def raw() -> float:
    m = models.build("lenet", sig).cuda()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    return raw_epoch(m, x, y, 256, opt, 0.5, 0.5, 0, 0)


for _ in range(2):
    print(
        f"kindling {_kindling_epoch(models.build('lenet', sig).cuda(), data, 256, 4, 'cuda'):.3f}  raw {raw():.3f}"
    )
cProfile.run("_kindling_epoch(models.build('lenet', sig).cuda(), data, 256, 4, 'cuda')", "/tmp/k.prof")
pstats.Stats("/tmp/k.prof").sort_stats("tottime").print_stats(18)
cProfile.run("raw()", "/tmp/r.prof")
pstats.Stats("/tmp/r.prof").sort_stats("tottime").print_stats(10)
