"""The pipeline's stages in order, and which of them are still to be built."""

STAGES = ("collect", "forecast", "plan", "apply", "report")
NOT_BUILT: dict[str, str] = {}  # every stage is built
