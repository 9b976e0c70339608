"""``modelops rollout``: watch and steer a ModelDeployment's rollout from the command line."""
