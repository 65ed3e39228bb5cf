"""Self-play training: the session that plays the env, the trainer that learns from it, and the
run around them (checkpoints, metrics, samples, data parallelism, export)."""
