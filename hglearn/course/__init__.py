"""The course: exercise notebooks built from the solutions, and the checks their cells call.

In a notebook:

    from hglearn import course
    nb = course.setup()                       # seeds, device, run sizes
    course.check_receptive_field(receptive_field)   # ✅, ❌ with what differs, or ✏️ not attempted yet

`hglearn course build` and `hglearn course record` (in `hglearn.course.notebooks`, which needs
the `dev` extra) write the exercise notebooks and re-record the solutions.
"""
from hglearn.course.checking import Verdict, check_function, check_module
from hglearn.course.checks_blocks import *  # noqa: F401,F403
from hglearn.course.checks_convolutions import *  # noqa: F401,F403
from hglearn.course.checks_efficiency import *  # noqa: F401,F403
from hglearn.course.checks_flows import *  # noqa: F401,F403
from hglearn.course.checks_heatmaps import *  # noqa: F401,F403
from hglearn.course.checks_hourglass import *  # noqa: F401,F403
from hglearn.course.checks_photos import *  # noqa: F401,F403
from hglearn.course.checks_primer import *  # noqa: F401,F403
from hglearn.course.checks_sadinet import *  # noqa: F401,F403
from hglearn.course.checks_training import *  # noqa: F401,F403
from hglearn.course.questions import check_prediction  # noqa: F401
from hglearn.course import runtime  # noqa: F401  (course.runtime: the T4 estimate's assumptions)
from hglearn.course.runtime import Setup, setup, t4_minutes, training_flops, yours_or_reference
