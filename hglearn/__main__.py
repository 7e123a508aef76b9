"""`python -m hglearn ...` is the `hglearn` command (also under `torchrun -m hglearn`)."""
import sys

from hglearn.cli import main

sys.exit(main())
