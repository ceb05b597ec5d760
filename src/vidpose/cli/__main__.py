"""``python -m vidpose.cli ...`` (what ``torchrun -m vidpose.cli train ...`` runs)."""

import sys

from vidpose.cli import main

sys.exit(main())
