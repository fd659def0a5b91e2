"""``python -m posekit``: the ``posekit`` command line (see :mod:`posekit.cli`)."""

from posekit.cli import main

raise SystemExit(main())
