"""``python -m posekit.batch INPUTS... -o OUT``."""

import sys

from posekit.batch.cli import main

sys.exit(main())
