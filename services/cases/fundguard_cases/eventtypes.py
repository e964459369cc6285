"""The schemas of the events cases adds to the bus live in ``fundguard_shared.events_cases``
(every consumer needs them); importing it registers them."""
from fundguard_shared.events_cases import DeadlineV1, SanctionDecidedV1  # noqa: F401
