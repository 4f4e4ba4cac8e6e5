import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator with a fresh seed each run (printed, so a failure can be replayed)."""
    seed = int(np.random.SeedSequence().entropy % (2**63))
    print(f"{request.node.name}: seed {seed}")
    return np.random.default_rng(seed)
