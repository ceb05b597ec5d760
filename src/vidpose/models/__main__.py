"""``python -m vidpose.models``: print the FLOPs/params table of docs/models.md."""

import torch

from vidpose.models.flops import main

torch.set_num_threads(1)  # the numbers do not depend on threads; keep the machine free
main()
