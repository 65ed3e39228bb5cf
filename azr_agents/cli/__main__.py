"""`python -m azr_agents.cli ...` (what `accelerate launch -m azr_agents.cli train` runs)."""

import sys

from azr_agents.cli import main

sys.exit(main())
